import type { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations/index.js';
import { AnswerTimeoutClient } from './answer-timeout-client.js';

/** The PostgreSQL setting behind each of the pool's limits; migrations lift them all (runMigrations). */
export const LIMIT_SETTINGS = {
  lockTimeoutMs: 'lock_timeout',
  statementTimeoutMs: 'statement_timeout',
  idleInTransactionTimeoutMs: 'idle_in_transaction_session_timeout',
} as const;

/**
 * Every pooled connection's limits, in ms (0 or unset: none): PostgreSQL's, and how long a
 * statement may wait for any answer (AnswerTimeoutClient).
 */
export type StatementLimits = Partial<Record<keyof typeof LIMIT_SETTINGS | 'answerTimeoutMs', number>>;
const LIMITS = Object.entries(LIMIT_SETTINGS) as [keyof typeof LIMIT_SETTINGS, string][];

/**
 * The one TypeORM configuration, shared by the app, the tests and the migration CLI. No
 * entities: each feature module registers its own (TypeOrmModule.forFeature, loaded by the
 * app's autoLoadEntities), and migrations are plain SQL that need none. The limits apply to
 * every pooled connection; migrations lift them on their own (runMigrations).
 */
export function typeOrmOptions(url: string, poolSize: number, limits: StatementLimits = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
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
      Client: AnswerTimeoutClient,
      answerTimeoutMs: limits.answerTimeoutMs,
      // No JIT compilation: every statement here is keyed and takes milliseconds, but on a large
      // database the planner's estimates for a search passed jit_above_cost and compiling took
      // 50–800 ms a statement (a member search: 2.7 ms without, 148 ms with, on 3 million messages).
      options: '-c jit=off',
      // `pg` sends these as startup parameters of every connection.
      ...Object.fromEntries(LIMITS.filter(([limit]) => limits[limit]).map(([limit, setting]) => [setting, limits[limit]])),
    },
  };
}
