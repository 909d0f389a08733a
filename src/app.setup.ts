import { ValidationPipe } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import helmet from '@fastify/helmet';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { RejectNulCharactersPipe } from './common/nul-characters.js';
import { ParleyWsAdapter } from './notifications/ws-adapter.js';
import { serveWebClient } from './web/web-client.js';

/** Request bodies above this are refused with 413; the largest legitimate one is a 4000-character message. */
const BODY_LIMIT_BYTES = 64 * 1024;

/** Builds the application exactly as it runs; main.ts and the end-to-end tests both use it. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    // Fastify accepts a hop count for trustProxy at run time; its types omit the number form.
    new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, trustProxy: config.trustProxy as boolean | string }),
    { logger: config.nodeEnv === 'test' ? ['error', 'warn'] : undefined },
  );
  await configureApp(app, config);
  return app;
}

export async function configureApp(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  // Security headers (CSP, frame-ancestors, nosniff, HSTS, referrer policy, …).
  // Without upgrade-insecure-requests: a plain-HTTP install (`npm start` reached over a LAN
  // address) would otherwise have its page's assets rewritten to https and fail to load.
  await app.register(helmet, { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  // The API speaks JSON only: any other body type is a 415, not a string to validate.
  app.getHttpAdapter().getInstance().removeContentTypeParser('text/plain');
  app.useWebSocketAdapter(new ParleyWsAdapter(app));
  app.useGlobalFilters(new HttpExceptionFilter(app.get(HttpAdapterHost)));
  app.useGlobalPipes(
    new RejectNulCharactersPipe(),
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      stopAtFirstError: true,
      transform: true,
    }),
  );
  app.enableCors({ origin: config.allowedOrigins ?? true });
  serveWebClient(app);
}
