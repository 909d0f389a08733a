import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { isDatabaseUnavailable, isStatementRefused } from '../common/pg-errors.js';
import { StartupError } from '../common/startup-error.js';

/** TypeORM's own pause between attempts (DATABASE_CONNECT_ATTEMPTS defaults to its 10, too). */
const RETRY_DELAY_MS = 3000;

/**
 * Connects, waiting for a database that is not up yet (a container starting beside this one)
 * with one plain line per attempt on stderr: the structured log begins only once the
 * application is built. A database that answers but refuses (a wrong password, no such
 * database) is not retried. Either is a StartupError, printed as one line; any other error
 * is a bug and is thrown as it is.
 */
export async function connectDatabase(options: DataSourceOptions, attempts: number, delayMs = RETRY_DELAY_MS): Promise<DataSource> {
  const where = databaseAddress(options);
  for (let attempt = 1; ; attempt++) {
    try {
      return await new DataSource(options).initialize();
    } catch (error) {
      const reason = (error as Error).message;
      // PostgreSQL answered with an error (no such role or database, a wrong password).
      if (isStatementRefused(error)) throw new StartupError(`the database at ${where} refused the connection: ${reason}`);
      if (!isDatabaseUnavailable(error)) throw error;
      if (attempt >= attempts) {
        const tries = attempt === 1 ? '1 attempt' : `${attempt} attempts, ${delayMs / 1000} s apart`;
        throw new StartupError(`cannot reach the database at ${where} (${tries}): ${reason}`);
      }
      process.stderr.write(
        `Database at ${where} not reachable (${reason}); retrying in ${delayMs / 1000} s (attempt ${attempt} of ${attempts})\n`,
      );
      await sleep(delayMs);
    }
  }
}

/** host:port/database of the connection URL: never its user or password. */
function databaseAddress(options: DataSourceOptions): string {
  const url = (options as { url?: string }).url ?? '';
  if (!URL.canParse(url)) return 'DATABASE_URL';
  const { hostname, port, pathname } = new URL(url);
  return `${hostname}:${port || '5432'}${pathname}`;
}
