import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { AppValidationPipe } from './common/validation.js';
import { setupOpenApi } from './docs/openapi.js';
import { logRequests, requestIdFor } from './logging/logging.js';
import { Metrics } from './metrics/metrics.service.js';
import { ParleyWsAdapter } from './notifications/ws-adapter.js';
import { serveWebClient } from './web/web-client.js';

/** Request bodies above this are refused with 413; the largest legitimate one is a 4000-character message. */
const BODY_LIMIT_BYTES = 64 * 1024;

/** Builds the application exactly as it runs; main.ts and the end-to-end tests both use it. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    // Fastify accepts a hop count for trustProxy at run time; its types omit the number form.
    new FastifyAdapter({
      bodyLimit: BODY_LIMIT_BYTES,
      trustProxy: config.trustProxy as boolean | string,
      genReqId: requestIdFor,
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
  app.useWebSocketAdapter(new ParleyWsAdapter(app));
  app.useGlobalFilters(new HttpExceptionFilter(app.get(HttpAdapterHost)));
  app.useGlobalPipes(new AppValidationPipe());
  app.enableCors({
    origin: config.allowedOrigins ?? true,
    // @fastify/cors allows only GET, HEAD and POST unless told: a browser on another origin could
    // not edit or delete a message.
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    // An OPTIONS request that is not a browser's preflight (no Origin) gets the same empty 204,
    // not @fastify/cors's plain-text 400, which is outside the contract's error shape.
    strictPreflight: false,
  });
  observeRequests(app, securityHeaders());
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
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) done(null, undefined);
    else parseJson(request, body as string, done); // parseAs: 'string'
  });
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
 * under /api/ (CSP, frame-ancestors, nosniff, HSTS, referrer policy, …), worked out once: with
 * no per-response nonces they are the same for every response, and @fastify/helmet rebuilt
 * the whole middleware, CSP included, on every request. Without upgrade-insecure-requests: a
 * plain-HTTP install (`npm start` reached over a LAN address) would otherwise have its page's
 * assets rewritten to https and fail to load.
 */
function securityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: unknown) => void (headers[name] = String(value)),
    removeHeader: () => undefined,
  };
  helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } })(
    {} as IncomingMessage,
    recorder as unknown as ServerResponse,
    () => undefined,
  );
  return headers;
}

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
    // For a browser on another origin: what it must read to back off (429, 503) and to quote a
    // request in a bug report. Only then: @fastify/cors's exposedHeaders adds it to every
    // response, which cost about 2% of the server's CPU a message (paired runs, both ways round).
    if (request.headers.origin !== undefined) reply.header('Access-Control-Expose-Headers', 'Retry-After, X-Request-Id');
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.observeHttp(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime);
    done();
  });
}
