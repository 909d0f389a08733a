import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { IncomingHttpHeaders } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LoggerModule, PinoLogger, type Params } from 'nestjs-pino';
import { pino, type BaseLogger } from 'pino';
import type { Options as PinoHttpOptions } from 'pino-http';
import type { AppConfig } from '../config/app-config.js';

/** A client's own `X-Request-Id` is kept when it looks like an id; anything else is replaced. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Query parameters whose values are credentials: Parley's own (`ticket`, and the body fields
 * `accessToken`, `refreshToken`, `password` should a client misplace them) and the names clients commonly
 * give tokens and keys.
 */
const SECRET_QUERY_PARAMETERS = /([?&](?:ticket|token|access_?token|refresh_?token|password|api_?key|jwt|secret)=)[^&#]*/gi;

/** Keys whose values are credentials. */
const SECRET_KEYS = ['password', 'passwordHash', 'accessToken', 'refreshToken', 'token', 'ticket'];

/**
 * What is never written: the credential headers, and the keys above at the top of a logged
 * object or one level down (`{ user: { password } }`). Deeper keys are not searched: that
 * would cost every line, and nothing logs whole nested structures.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'res.headers["set-cookie"]',
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
];

/** How the root logger (and so every logger made from it) masks those keys. */
export const REDACTION = { paths: REDACTED_PATHS, censor: '[Redacted]' };

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
 * development). A line about one request carries that request's `reqId` (the client's
 * `X-Request-Id`, or a new UUID, echoed in the response), passed explicitly: see
 * `RequestId`. nestjs-pino supplies the Nest logger; the request hooks are in `logRequests`.
 * The redaction list catches credentials should a log call pass an object holding them.
 */
export function loggingModule(config: AppConfig) {
  const pretty = config.logFormat === 'pretty' && prettyAvailable();
  // pino-http is used only for the root logger it builds from these options.
  const options: PinoHttpOptions = {
    level: config.logLevel,
    transport: pretty
      ? { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }
      : undefined,
    redact: REDACTION,
  };
  const params: Params = {
    // No Express-style middleware: `logRequests` does its work as Fastify hooks.
    forRoutes: [],
    // JSON lines go to stdout asynchronously: pino's default writes every line with a blocking
    // write(2) on the request path. Lines written while one write is under way go out together
    // in the next, and whatever is pending is flushed when the process exits.
    pinoHttp: pretty ? options : [options, pino.destination({ dest: 1, sync: false })],
  };
  return LoggerModule.forRoot(params);
}

/**
 * Logs one line for each request when it completes: method, URL (credentials in the query
 * string masked), status and time, never headers or bodies, so tokens and passwords do not
 * reach the logs. Health checks and metric scrapes are not logged, or probes would drown
 * everything else; a failing health check logs its own error.
 *
 * These are Fastify hooks rather than nestjs-pino's pino-http middleware, which runs through
 * Fastify's Express-compatibility layer and builds a child logger per request. Chosen for
 * speed (docs/performance.md).
 */
export function logRequests(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  // The root logger carries pino-http's serializers for `req` and `res`, which expect Node's
  // request and response objects; these lines pass plain objects already shaped. They are
  // built from fields chosen not to hold credentials (the URL's are masked), so the redaction
  // list has nothing to find in them, and skipping it is for speed (docs/performance.md).
  const completions = PinoLogger.root.child({}, { serializers: { req: asIs, res: asIs }, redact: [] });
  fastify.addHook('onResponse', (request, reply, done) => {
    if (!unlogged(request.url)) logCompletion(completions, request, reply);
    done();
  });
}

const asIs = (value: unknown) => value;

function unlogged(url: string): boolean {
  return url === '/metrics' || url.startsWith('/health/');
}

function logCompletion(logger: BaseLogger, request: FastifyRequest, reply: FastifyReply): void {
  const status = reply.statusCode;
  const url = withoutSecrets(request.url);
  const line = {
    reqId: request.id,
    req: { id: request.id, method: request.method, url, remoteAddress: request.ip },
    res: { statusCode: status },
    responseTime: Math.round(reply.elapsedTime),
  };
  // 503 is a dependency being down (logged where it is detected), not a fault of this code;
  // real errors are logged with their stack by the exception filter.
  if (status === 503) logger.warn(line, `${request.method} ${url} ${status} failed`);
  else if (status >= 500) logger.error(line, `${request.method} ${url} ${status} failed`);
  else logger.info(line, `${request.method} ${url} ${status} ${line.responseTime}ms`);
}
