// The command line: `npm run cli -- create-admin <username>` (or `node dist/src/cli.js …` where
// only the build is installed, as in the Docker image). Same configuration as the server.
import 'reflect-metadata';
import { AdminAccountError, checkAdminCredentials } from './admin/admin-credentials.js';
import { readPassword } from './cli/password-prompt.js';
import { ConfigError, loadConfig } from './config/app-config.js';

const USAGE = `usage: parley create-admin <username>
  Creates the user as an admin, or makes an existing user an active admin, with the password
  read from the terminal (or the first line of standard input). Uses DATABASE_URL as the server does.`;

class UsageError extends Error {}

async function createAdmin(username: string | undefined): Promise<void> {
  if (!username) throw new UsageError(USAGE);
  const config = loadConfig();
  checkAdminCredentials(username);
  let password = await readPassword(`Password for ${username}: `);
  checkAdminCredentials(username, password);
  if (process.stdin.isTTY && password !== (await readPassword('Repeat it: '))) {
    throw new AdminAccountError('the passwords differ');
  }
  // Nest and the database only once the input is known to be good.
  const { NestFactory } = await import('@nestjs/core');
  const { CliModule } = await import('./cli/cli.module.js');
  const { AdminAccountsService } = await import('./admin/admin-accounts.service.js');
  // A failure to start is thrown to the handler below, which prints it as one line.
  const app = await NestFactory.createApplicationContext(CliModule.forRoot(config), {
    logger: ['error', 'warn'],
    abortOnError: false,
    bufferLogs: true,
    autoFlushLogs: false,
  });
  app.flushLogs();
  try {
    const outcome = await app.get(AdminAccountsService).ensureAdmin(username, password);
    password = '';
    const name = username.toLowerCase();
    const said = { created: `created admin ${name}`, promoted: `${name} is now an active admin`, unchanged: `${name} was already an active admin` };
    console.log(said[outcome]);
  } finally {
    await app.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  if (command === 'create-admin' && args.length <= 1) return createAdmin(args[0]);
  if (command === undefined || command === 'help' || command === '--help') {
    console.log(USAGE);
    return;
  }
  throw new UsageError(USAGE);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: Error) => {
    if (error instanceof UsageError) {
      console.error(error.message);
      process.exit(2);
    }
    // One line for the person at the console; a database that cannot be reached says so itself.
    console.error(error instanceof ConfigError ? `Configuration error: ${error.message}` : `create-admin: ${error.message}`);
    process.exit(1);
  },
);
