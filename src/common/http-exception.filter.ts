import { STATUS_CODES } from 'node:http';
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { isDatabaseUnavailable, isLockTimeout, isStatementCanceled } from './pg-errors.js';
import { ServiceBusyException } from './service-busy.exception.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
}

export function errorBody(statusCode: number, message: string | string[]): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/**
 * Every error leaves in the contract's one shape, `{statusCode, error, message}`. Client errors
 * keep their message; anything unexpected is logged with its stack and answered with a bare 500,
 * so no stack trace, SQL or driver text ever reaches a client.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(HttpExceptionFilter.name);

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const http = host.switchToHttp();
    const body = databaseFailure(exception) ?? this.toBody(exception);
    if (body.statusCode === 500 && !(exception instanceof HttpException)) {
      const reqId = http.getRequest<{ id?: string }>().id;
      this.logger.error({ reqId }, exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    const response = http.getResponse();
    if (body.statusCode === HttpStatus.SERVICE_UNAVAILABLE) {
      const retryAfter = exception instanceof ServiceBusyException ? exception.retryAfterSeconds : 1;
      this.adapterHost.httpAdapter.setHeader(response, 'Retry-After', String(retryAfter));
    }
    this.adapterHost.httpAdapter.reply(response, body, body.statusCode);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const response = exception.getResponse();
      const message =
        typeof response === 'string'
          ? response
          : ((response as { message?: string | string[] }).message ?? exception.message);
      return errorBody(statusCode, message);
    }
    // Errors raised below Nest (Fastify's body parser: bad JSON, too large, wrong content type)
    // carry their own 4xx status and a message written for clients.
    const status = (exception as { statusCode?: unknown })?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return errorBody(status, (exception as Error).message);
    }
    return errorBody(HttpStatus.INTERNAL_SERVER_ERROR, 'Internal server error');
  }
}

/** The 503 for a database that cannot serve this request now, if that is what went wrong. */
function databaseFailure(exception: unknown): ErrorBody | undefined {
  if (isDatabaseUnavailable(exception)) return DATABASE_UNAVAILABLE;
  if (isLockTimeout(exception)) return DATABASE_BUSY;
  if (isStatementCanceled(exception)) return DATABASE_TOO_SLOW;
  return undefined;
}

const DATABASE_UNAVAILABLE: ErrorBody = {
  statusCode: HttpStatus.SERVICE_UNAVAILABLE,
  error: 'Service Unavailable',
  message: 'The database is unavailable; try again shortly',
};

/** A lock not granted within DATABASE_LOCK_TIMEOUT_MS: something holds the rows this write needs. */
const DATABASE_BUSY: ErrorBody = {
  statusCode: HttpStatus.SERVICE_UNAVAILABLE,
  error: 'Service Unavailable',
  message: 'What this request changes is busy; try again',
};

/** A statement cancelled past DATABASE_STATEMENT_TIMEOUT_MS. */
const DATABASE_TOO_SLOW: ErrorBody = {
  statusCode: HttpStatus.SERVICE_UNAVAILABLE,
  error: 'Service Unavailable',
  message: 'The database took too long to answer; try again',
};
