import type { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations/index.js';
import { entities } from './entities.js';

/**
 * Every pooled connection's `lock_timeout`, `statement_timeout` and
 * `idle_in_transaction_session_timeout`, in ms (0 or unset: none).
 */
export interface StatementLimits {
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
}

/**
 * The one TypeORM configuration, shared by the app, the tests and the migration CLI. The
 * limits apply to every pooled connection; migrations lift them on their own (runMigrations).
 */
export function typeOrmOptions(url: string, poolSize: number, limits: StatementLimits = {}): DataSourceOptions {
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
      ...(limits.lockTimeoutMs ? { lock_timeout: limits.lockTimeoutMs } : {}),
      ...(limits.statementTimeoutMs ? { statement_timeout: limits.statementTimeoutMs } : {}),
      ...(limits.idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs } : {}),
    },
  };
}
