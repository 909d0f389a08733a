import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/** The project root: the nearest folder above this module with a package.json (from src/ or dist/src/). */
function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the web client module');
    dir = parent;
  }
  return dir;
}

/** Where Vite puts the built web client (`npm run build:web`, part of `npm run build`). */
export const WEB_CLIENT_DIR = path.join(projectRoot(), 'web', 'dist');

/**
 * Serves the web client at `/`. One route per built file (`wildcard: false`) instead of a
 * catch-all, so `/api`, `/ws`, `/health`, `/docs` and `/metrics`, and their 404s, are untouched;
 * the client routes with the URL's #fragment, so no other path needs index.html.
 */
export function serveWebClient(app: NestFastifyApplication, dir = WEB_CLIENT_DIR): void {
  if (!existsSync(path.join(dir, 'index.html'))) {
    new Logger('WebClient').warn(`No web client at ${dir}; "npm run build" builds it`);
    return;
  }
  // Registered directly rather than with app.useStaticAssets(), whose option types name a
  // `setHeader` that the reply @fastify/static passes does not have. Fastify loads it at listen.
  void app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    wildcard: false,
    index: 'index.html',
    cacheControl: false,
    setHeaders(reply, filePath) {
      // Vite names assets by content hash: they never change. index.html names the current ones.
      const immutable = filePath.startsWith(path.join(dir, 'assets') + path.sep);
      reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
