import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppModule } from '../app.module.js';
import { loadConfig } from '../config/app-config.js';
import { createOpenApiDocument } from './openapi.js';

/**
 * Writes the OpenAPI document (the one `GET /docs-json` serves) to a file, without a database
 * or Redis: Nest's preview mode builds the module graph, whose controllers and DTOs carry the
 * document, without instantiating a provider. `npm run build` writes
 * packages/client/openapi.json with it, from which the client library's types are generated.
 */
export async function writeOpenApiDocument(file: string): Promise<boolean> {
  // Never connected to: preview mode instantiates nothing.
  const config = loadConfig({ DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused' });
  const app = await NestFactory.create(AppModule.forRoot(config), new FastifyAdapter(), { preview: true, logger: false, abortOnError: false });
  const text = `${JSON.stringify(createOpenApiDocument(app), null, 2)}\n`;
  await app.close();
  let before: string | undefined;
  try {
    before = readFileSync(file, 'utf8');
  } catch {
    before = undefined;
  }
  if (before === text) return false;
  writeFileSync(file, text);
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = path.resolve(process.cwd(), process.argv[2] ?? 'packages/client/openapi.json');
  const changed = await writeOpenApiDocument(file);
  console.log(`${path.relative(process.cwd(), file)}: ${changed ? 'written' : 'up to date'}`);
}
