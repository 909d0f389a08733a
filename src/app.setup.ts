import { ValidationPipe } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { ParleyWsAdapter } from './notifications/ws-adapter.js';
import { serveWebClient } from './web/web-client.js';

/** Request bodies above this are refused with 413; the largest legitimate one is a 4000-character message. */
const BODY_LIMIT_BYTES = 64 * 1024;

/** Builds the application exactly as it runs; main.ts and the end-to-end tests both use it. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES }),
    { logger: config.nodeEnv === 'test' ? ['error', 'warn'] : undefined },
  );
  configureApp(app, config);
  return app;
}

export function configureApp(app: NestFastifyApplication, config: AppConfig): void {
  app.useWebSocketAdapter(new ParleyWsAdapter(app));
  app.useGlobalFilters(new HttpExceptionFilter(app.get(HttpAdapterHost)));
  app.useGlobalPipes(
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
