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
 * `accessToken`, `password` should a client misplace them) and the names clients commonly
 * give tokens and keys.
 */
const SECRET_QUERY_PARAMETERS = /([?&](?:ticket|token|access_?token|password|api_?key|jwt|secret)=)[^&#]*/gi;

/** Keys whose values are credentials. */
const SECRET_KEYS = ['password', 'passwordHash', 'accessToken', 'token', 'ticket'];

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
    // write(2) on the request path. The lines of one turn of the event loop go out together
    // (TurnBatchedLines), and whatever is pending is written when the process exits.
    pinoHttp: pretty ? options : [options, new TurnBatchedLines(pino.destination({ dest: 1, sync: false }))],
  };
  return LoggerModule.forRoot(params);
}

/** Where TurnBatchedLines hands its lines on: pino's asynchronous destination (sonic-boom). */
interface LineDestination {
  write(data: string): boolean;
  flush(callback: (error?: Error) => void): void;
  flushSync(): void;
}

/** Every live TurnBatchedLines (tests make many apps), so that one exit handler writes what each holds. */
const batchedDestinations = new Set<WeakRef<TurnBatchedLines>>();
const forgetDestination = new FinalizationRegistry<WeakRef<TurnBatchedLines>>((ref) => batchedDestinations.delete(ref));
process.once('exit', () => {
  for (const ref of batchedDestinations) ref.deref()?.flushSync();
});

/**
 * A log destination that gathers the lines of one turn of the event loop and writes them
 * together at its end. Under load one turn answers a whole batch of sends, a completion line
 * each, and pino's asynchronous destination began a write (a round trip through libuv's
 * thread pool) for nearly every line: about 4% of the server's CPU a message at 64 senders
 * (README, "What each change bought"). A line waits at most for the rest of its turn; on exit,
 * normal or by an uncaught error, pending lines are written synchronously. Only SIGKILL loses
 * them, as it loses what the destination itself still buffers.
 */
export class TurnBatchedLines {
  private pending = '';
  private scheduled = false;

  constructor(private readonly destination: LineDestination) {
    const ref = new WeakRef(this);
    batchedDestinations.add(ref);
    forgetDestination.register(this, ref);
  }

  write(line: string): boolean {
    this.pending += line;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.writePending);
    }
    return true;
  }

  /** pino's `logger.flush(callback)`: the pending lines are handed on, then the destination flushes. */
  flush(callback: (error?: Error) => void): void {
    this.writePending();
    this.destination.flush(callback);
  }

  /** Writes everything pending now, without waiting for the event loop. */
  flushSync(): void {
    this.writePending();
    this.destination.flushSync();
  }

  private readonly writePending = (): void => {
    this.scheduled = false;
    if (this.pending === '') return;
    const lines = this.pending;
    this.pending = '';
    this.destination.write(lines);
  };
}

/**
 * Logs one line for each request when it completes: method, URL (credentials in the query
 * string masked), status and time, never headers or bodies, so tokens and passwords do not
 * reach the logs. Health checks and metric scrapes are not logged, or probes would drown
 * everything else; a failing health check logs its own error.
 *
 * These are Fastify hooks rather than nestjs-pino's pino-http middleware, which runs through
 * Fastify's Express-compatibility layer and builds a child logger per request: that cost
 * about 100 µs of CPU per request on the development machine, more than Fastify itself and
 * the rest of the request pipeline together.
 */
export function logRequests(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  // The root logger carries pino-http's serializers for `req` and `res`, which expect Node's
  // request and response objects; these lines pass plain objects already shaped. They are
  // built from fields chosen not to hold credentials (the URL's are masked), so the redaction
  // list has nothing to find in them: skipping it makes a line 4–5 µs cheaper (of 6–7).
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
