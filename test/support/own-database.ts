import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { inject } from 'vitest';
import { runMigrations } from '../../src/database/migrate.js';
import { typeOrmOptions } from '../../src/database/typeorm-options.js';

/**
 * A database of the suite's own, migrated, on the test PostgreSQL: for a suite whose jobs must not
 * meet another suite's (a cleanup clock it moves, which would sweep other suites' uploads; pushes,
 * which the app that takes the job signs with its own VAPID key). Undefined on the embedded
 * database (one database only): the suite then shares the test database.
 */
export async function ownDatabase(name: string): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  if (!process.env.TEST_DATABASE_URL) return undefined;
  const shared = new URL(inject('databaseUrl'));
  const database = `${shared.pathname.slice(1)}_${name}_${randomBytes(3).toString('hex')}`.slice(0, 63);
  const admin = new pg.Client({ connectionString: shared.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
  const url = new URL(shared);
  url.pathname = `/${database}`;
  const dataSource = await new DataSource(typeOrmOptions(url.toString(), 2)).initialize();
  await runMigrations(dataSource);
  await dataSource.destroy();
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: shared.toString() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await client.end();
    },
  };
}
