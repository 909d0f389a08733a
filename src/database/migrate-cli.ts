// `npm run migration:run` / `migration:revert`: the same migrations and options as the app.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { runMigrations } from './migrate.js';
import { typeOrmOptions } from './typeorm-options.js';

async function main(command: string | undefined): Promise<void> {
  if (command !== 'run' && command !== 'revert') {
    throw new ConfigError('usage: migrate-cli run|revert');
  }
  const config = loadConfig();
  const embedded = config.databaseUrl ? undefined : new EmbeddedPostgres(config.dataDir, 2);
  const url = config.databaseUrl ?? (await embedded!.start());
  const dataSource = new DataSource(typeOrmOptions(url, 2));
  await dataSource.initialize();
  try {
    if (command === 'run') await runMigrations(dataSource);
    else await dataSource.undoLastMigration({ transaction: 'each' });
    console.log(`migration ${command}: done`);
  } finally {
    await dataSource.destroy();
    await embedded?.stop();
  }
}

main(process.argv[2]).catch((error: Error) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
