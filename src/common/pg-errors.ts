import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';

/** SQLSTATE codes the services turn into answers for clients. */
export const UNIQUE_VIOLATION = '23505';
/** A lock not granted within `lock_timeout`. */
export const LOCK_NOT_AVAILABLE = '55P03';
/** A statement cancelled: past `statement_timeout` (or cancelled by an operator). */
export const QUERY_CANCELED = '57014';

/** PostgreSQL's error fields, whether `pg` threw the error or TypeORM wrapped it. */
function driverError(error: unknown): { code?: unknown; constraint?: unknown } {
  const wrapped = (error as { driverError?: object } | undefined)?.driverError;
  return (wrapped ?? error ?? {}) as { code?: unknown; constraint?: unknown };
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const { code, constraint: violated } = driverError(error);
  return code === UNIQUE_VIOLATION && (constraint === undefined || violated === constraint);
}

export function isLockTimeout(error: unknown): boolean {
  return driverError(error).code === LOCK_NOT_AVAILABLE;
}

export function isStatementCanceled(error: unknown): boolean {
  return driverError(error).code === QUERY_CANCELED;
}

/**
 * Whether PostgreSQL answered a statement with an error, so that the statement (run in its own
 * transaction) changed nothing. False for a lost connection, where it may have committed.
 */
export function isStatementRefused(error: unknown): boolean {
  const { code } = driverError(error);
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !isDatabaseUnavailable(error);
}

// Connection-level failures: class 08 (connection exception), 57P0x (the server is shutting
// down or restarting), and the driver's own errors for a refused, dropped or timed-out connection.
const CONNECTION_FAILURE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03']);
const CONNECTION_FAILURE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused/i;

/**
 * A transaction's connection lost between two of its statements (PostgreSQL ended the session,
 * or it dropped): TypeORM has released it, and the transaction's next statement finds it gone.
 * The transaction never reached its commit, so nothing of it was stored.
 */
function isTransactionConnectionLost(error: unknown): boolean {
  return error instanceof QueryRunnerProviderAlreadyReleasedError || error instanceof QueryRunnerAlreadyReleasedError;
}

/** Whether an error means "PostgreSQL cannot be reached right now" (answered 503, not 500). */
export function isDatabaseUnavailable(exception: unknown): boolean {
  if (isTransactionConnectionLost(exception)) return true;
  const error = exception as { code?: string; message?: string; driverError?: { code?: string; message?: string } };
  const candidates = [error, error?.driverError].filter(Boolean) as { code?: string; message?: string }[];
  return candidates.some(
    (candidate) =>
      (candidate.code !== undefined && (CONNECTION_FAILURE_CODES.has(candidate.code) || candidate.code.startsWith('08'))) ||
      CONNECTION_FAILURE_MESSAGES.test(candidate.message ?? ''),
  );
}
