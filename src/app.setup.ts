import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import type { HelmetOptions } from 'helmet';
import { isUtf8 } from 'node:buffer';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { acceptUploads } from './attachments/uploads.setup.js';
import type { AppConfig } from './config/app-config.js';
import { helmetHeaders } from './common/hot-path/helmet-headers.js';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { AppValidationPipe } from './common/validation.js';
import { setupOpenApi } from './docs/openapi.js';
import { logRequests, requestIdFor } from './logging/logging.js';
import { SendTrace } from './messages/send-trace.js';
import { Metrics } from './metrics/metrics.service.js';
import { ParleyWsAdapter } from './notifications/ws-adapter.js';
import { serveWebClient } from './web/web-client.js';

/** Request bodies above this are refused with 413; the largest legitimate one is a 4000-character message. */
const BODY_LIMIT_BYTES = 64 * 1024;

/**
 * The longest path parameter (decoded, in UTF-16 code units): Fastify's default, longer than
 * any id and than any emoji a reaction names (the longest, a kiss with two skin tones, is 15).
 */
const MAX_PARAM_LENGTH = 100;

/** Builds the application exactly as it runs; main.ts and the end-to-end tests both use it. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    // Fastify accepts a hop count for trustProxy at run time; its types omit the number form.
    new FastifyAdapter({
      bodyLimit: BODY_LIMIT_BYTES,
      trustProxy: config.trustProxy as boolean | string,
      genReqId: requestIdFor,
      routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
      frameworkErrors: answerRouterError,
    }),
    {
      // Held until pino takes over below, so that even start-up lines are structured.
      bufferLogs: true,
      // A failure to start is thrown to the caller (main.ts prints a StartupError as one line)
      // instead of ending the process here with the error's stack.
      abortOnError: false,
      autoFlushLogs: false,
      // During a graceful shutdown, new requests get 503 while in-flight ones finish.
      return503OnClosing: true,
      // Nest would add a form (urlencoded) parser beside Fastify's own JSON one; the API takes
      // JSON only (configureApp), and a form body is a 415 like any other non-JSON body.
      bodyParser: false,
    },
  );
  app.useLogger(app.get(Logger));
  app.flushLogs();
  logRequests(app);
  await configureApp(app, config);
  return app;
}

export async function configureApp(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  // The API speaks JSON only: any other body type is a 415, not a string to validate.
  fastify.removeContentTypeParser('text/plain');
  takeEmptyJsonAsNoBody(fastify);
  app.get(SendTrace).attach(fastify);
  await acceptUploads(app);
  app.useWebSocketAdapter(new ParleyWsAdapter(app));
  app.useGlobalFilters(new HttpExceptionFilter(app.get(HttpAdapterHost)));
  app.useGlobalPipes(new AppValidationPipe());
  app.enableCors({
    origin: config.allowedOrigins ?? true,
    // @fastify/cors allows only GET, HEAD and POST unless told: a browser on another origin could
    // not edit or delete a message.
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    // An OPTIONS request that is not a browser's preflight (no Origin) gets the same empty 204,
    // not @fastify/cors's plain-text 400, which is outside the contract's error shape.
    strictPreflight: false,
    // For a browser on another origin: what it must read to back off (429, 503) and to quote a
    // request in a bug report.
    exposedHeaders: ['Retry-After', 'X-Request-Id'],
  });
  observeRequests(app, helmetHeaders(PAGE_HELMET_OPTIONS));
  setupOpenApi(app);
  serveWebClient(app);
}

/**
 * An empty body labelled JSON is no body, as Express, Django and Rails take it: HTTP client
 * wrappers that set `Content-Type: application/json` on every request would otherwise get 400
 * from the calls that take no body (DELETE, `POST /auth/ws-ticket`). A call that needs a body
 * still says which fields are missing. Anything else goes to Fastify's own JSON parser, which
 * refuses `__proto__` and `constructor.prototype` keys.
 */
function takeEmptyJsonAsNoBody(fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer; // parseAs: 'buffer'
    if (bytes.length === 0) done(null, undefined);
    // Decoded as a string, bytes that are not UTF-8 (an encoded lone surrogate, ED A0 80,
    // among them) became U+FFFD without a word, and were stored so.
    else if (!isUtf8(bytes)) done(Object.assign(new Error(NOT_UTF8_MESSAGE), { statusCode: 400 }), undefined);
    else parseJson(request, bytes.toString('utf8'), done);
  });
}

export const NOT_UTF8_MESSAGE = 'Body is not valid UTF-8';

/**
 * The router refuses a malformed percent-encoding in the path (400) and a path parameter over
 * MAX_PARAM_LENGTH (414) before any hook or exception filter runs, with a body of its own
 * (which has a `code`): answered here instead, in the contract's shape, with the API's headers.
 */
function answerRouterError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
  const message =
    status === 414 ? `A path segment is longer than ${MAX_PARAM_LENGTH} characters` : 'The path is not a valid URL (malformed percent-encoding)';
  reply
    .headers(API_SECURITY_HEADERS)
    .header('X-Request-Id', request.id)
    .code(status)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify({ statusCode: status, error: STATUS_CODES[status], message }));
}

/**
 * The API's JSON answers carry the security headers OWASP's REST Security Cheat Sheet names for
 * an API: the rest of helmet's set governs how a browser runs a page (its scripts, frames,
 * referrers, DNS prefetching, Flash and IE8's downloads), and the API serves no page. `no-store`
 * keeps private messages out of browser and proxy caches; the CSP makes a JSON answer opened
 * in a tab inert.
 */
const API_SECURITY_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

/**
 * Helmet's security headers for the pages (the web client, Swagger UI) and everything else not
 * under /api/ (CSP, frame-ancestors, nosniff, HSTS, referrer policy, …), worked out once
 * (helmetHeaders). Without upgrade-insecure-requests: a plain-HTTP install (`npm start` reached
 * over a LAN address) would otherwise have its page's assets rewritten to https and fail to load.
 *
 * style-src 'self' rather than helmet's `'self' https: 'unsafe-inline'`: the web client's only
 * stylesheet is its own file, and it sets inline styles through element.style (which CSP
 * allows); an injected <style> or style attribute is refused. /docs adds the hashes of Swagger
 * UI's own inline styles (setupOpenApi).
 */
const PAGE_HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null, styleSrc: ["'self'"] } },
};

/**
 * Sets the security headers and echoes each request's id (the one on its log lines) in
 * `X-Request-Id`, readable by a browser on another origin, and times every response into
 * parley_http_request_duration_seconds, labelled by route pattern.
 */
function observeRequests(app: NestFastifyApplication, pageHeaders: Record<string, string>): void {
  const metrics = app.get(Metrics);
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers(request.url.startsWith('/api/') ? API_SECURITY_HEADERS : pageHeaders);
    reply.header('X-Request-Id', request.id);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.observeHttp(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime);
    done();
  });
}
