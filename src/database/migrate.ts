import { MigrationExecutor, type DataSource } from 'typeorm';
import { withoutAnswerTimeout } from './answer-timeout-client.js';
import { LIMIT_SETTINGS } from './typeorm-options.js';
import { migrateWorkerSchema } from '../jobs/worker-schema.js';

// Any constant works; it only has to be the same in every Parley process.
const MIGRATION_LOCK_KEY = 7_261_977;
const SETTINGS = Object.values(LIMIT_SETTINGS);

/**
 * Applies pending migrations under a PostgreSQL advisory lock, so that several instances
 * starting together against one database migrate it exactly once. All of it runs on one
 * connection with the pool's timeouts lifted: an instance waits for another's migrations
 * however long they take, and a migration may wait for the locks its DDL needs and run as long
 * as it must. The job queue's schema (graphile-worker's own migrations) follows Parley's.
 */
export async function runMigrations(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  const connection: unknown = await runner.connect();
  try {
    await runner.query(SETTINGS.map((setting) => `SET ${setting} = 0`).join('; '));
    await withoutAnswerTimeout(connection, async () => {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'each';
      await executor.executePendingMigrations();
      // Under the same lock: an instance that finds the migrations done finds the queue's schema too.
      await migrateWorkerSchema(dataSource);
    });
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    // Back to the pool's own settings before the connection is reused.
    await runner.query(SETTINGS.map((setting) => `RESET ${setting}`).join('; ')).catch(() => undefined);
    await runner.release();
  }
}
