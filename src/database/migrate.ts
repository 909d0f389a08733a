import type { DataSource } from 'typeorm';

// Any constant works; it only has to be the same in every Parley process.
const MIGRATION_LOCK_KEY = 7_261_977;

/**
 * Applies pending migrations under a PostgreSQL advisory lock, so that several instances
 * starting together against one database migrate it exactly once.
 */
export async function runMigrations(dataSource: DataSource): Promise<void> {
  const lockHolder = dataSource.createQueryRunner();
  await lockHolder.connect();
  try {
    await lockHolder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lockHolder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lockHolder.release();
  }
}
