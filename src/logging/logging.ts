import { randomUUID } from 'node:crypto';
import { RequestMethod } from '@nestjs/common';
import { createRequire } from 'node:module';
import type { IncomingHttpHeaders } from 'node:http';
import { LoggerModule, type Params } from 'nestjs-pino';
import { pino } from 'pino';
import type { Options as PinoHttpOptions } from 'pino-http';
import type { AppConfig } from '../config/app-config.js';

/** A client's own `X-Request-Id` is kept when it looks like an id; anything else is replaced. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Query parameters whose values are credentials. */
const SECRET_QUERY_PARAMETERS = /([?&](?:ticket|token|access_token|password)=)[^&#]*/gi;

/** Keys that are never written, wherever they turn up in a logged object. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.passwordHash',
  '*.accessToken',
  '*.token',
  '*.ticket',
];

export function withoutSecrets(url: string | undefined): string | undefined {
  return url?.replace(SECRET_QUERY_PARAMETERS, '$1[Redacted]');
}

function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * The id of a request (Fastify's `genReqId`, so Fastify, pino-http and the response's
 * `X-Request-Id` all agree): the client's or the proxy's `X-Request-Id` when it looks like an
 * id, else a new UUID.
 */
export function requestIdFor(request: { headers: IncomingHttpHeaders }): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
}

/**
 * Structured logs through pino: one JSON object a line (or pino-pretty's lines for people in
 * development), each line written while serving a request carrying that request's `reqId`
 * (the client's `X-Request-Id`, or a new UUID, echoed in the response). Requests are logged
 * with method, URL (credentials in the query string masked), status and time, never with
 * headers or bodies, so tokens and passwords do not reach the logs; the redaction list
 * catches them should a log call pass such an object. Health checks and metric scrapes are
 * not logged, or probes would drown everything else; a failing health check logs its own error.
 */
export function loggingModule(config: AppConfig) {
  const pretty = config.logFormat === 'pretty' && prettyAvailable();
  const options: PinoHttpOptions = {
    level: config.logLevel,
    transport: pretty
      ? { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }
      : undefined,
    redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
    // Lines logged during a request carry only its id; the completion line has the details.
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'reqId' },
    serializers: {
      req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        url: withoutSecrets(req.url),
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      // pino-http makes up an error for every 5xx; its stack says nothing. Real errors are
      // logged with their stack by the exception filter.
      err: (err: { message?: string }) => (err.message?.startsWith('failed with status code') ? undefined : err),
    },
    // 503 is a dependency being down (logged where it is detected), not a fault of this code.
    customLogLevel: (_req, res, error) =>
      res.statusCode === 503 ? 'warn' : error || res.statusCode >= 500 ? 'error' : 'info',
    customSuccessMessage: (req, res, responseTime) =>
      `${req.method} ${withoutSecrets(req.url)} ${res.statusCode} ${Math.round(responseTime)}ms`,
    customErrorMessage: (req, res) => `${req.method} ${withoutSecrets(req.url)} ${res.statusCode} failed`,
    autoLogging: {
      ignore: (req) => req.url === '/metrics' || req.url?.startsWith('/health/') === true,
    },
  };
  const params: Params = {
    // nestjs-pino's default route pattern matches nothing under the Fastify adapter of Nest 12.
    forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
    // JSON lines go to stdout asynchronously: pino's default writes every line with a blocking
    // write(2) on the request path. Lines written while one write is under way go out together
    // in the next, and whatever is pending is flushed when the process exits.
    pinoHttp: pretty ? options : [options, pino.destination({ dest: 1, sync: false })],
  };
  return LoggerModule.forRoot(params);
}
