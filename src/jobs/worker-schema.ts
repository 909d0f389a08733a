import pg from 'pg';
import { runMigrations as installWorkerSchema } from 'graphile-worker';
import type { DataSource } from 'typeorm';
import { quietWorkerLogger } from './worker-logger.js';

/**
 * graphile-worker's own schema (`graphile_worker`), installed and upgraded by its own migrate,
 * right after Parley's migrations (see runMigrations), so that `graphile_worker.add_jobs`, which
 * the send path calls in its transaction, exists before the first request.
 */
export async function migrateWorkerSchema(dataSource: DataSource): Promise<void> {
  const pgPool = new pg.Pool({ connectionString: databaseUrl(dataSource), max: 1 });
  try {
    await installWorkerSchema({ pgPool, noPreparedStatements: true, logger: quietWorkerLogger });
  } finally {
    await pgPool.end();
  }
}

export function databaseUrl(dataSource: DataSource): string {
  return (dataSource.options as { url: string }).url;
}
