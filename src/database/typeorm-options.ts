import type { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations/index.js';
import { entities } from './entities.js';

/**
 * The one TypeORM configuration, shared by the app, the tests and the migration CLI.
 * `lockTimeoutMs` (0: none) is every pooled connection's `lock_timeout`; migrations lift it
 * on their own connection (runMigrations).
 */
export function typeOrmOptions(url: string, poolSize: number, lockTimeoutMs = 0): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    // Off: TypeORM's error log prints query parameters (password hashes among them). Failures
    // surface as exceptions, which the HTTP filter logs without their parameters.
    logging: false,
    extra: {
      max: poolSize,
      // Fail fast instead of queueing forever when the database is unreachable.
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      ...(lockTimeoutMs > 0 ? { lock_timeout: lockTimeoutMs } : {}),
    },
  };
}
