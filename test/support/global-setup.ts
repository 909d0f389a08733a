import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import type { TestProject } from 'vitest/node';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { runMigrations } from '../../src/database/migrate.js';
import { typeOrmOptions } from '../../src/database/typeorm-options.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

/**
 * One database for the run: TEST_DATABASE_URL (a real PostgreSQL; CI makes a throwaway one),
 * or else an embedded PGlite in a temporary directory. Migrations run once, here; suites stay
 * independent by creating their own users and conversations, never by run order.
 */
export default async function setup(project: TestProject) {
  let embedded: EmbeddedPostgres | undefined;
  let dataDir: string | undefined;
  let url = process.env.TEST_DATABASE_URL;
  if (!url) {
    dataDir = await mkdtemp(path.join(tmpdir(), 'parley-test-'));
    embedded = new EmbeddedPostgres(dataDir, 200);
    url = await embedded.start();
  }
  const dataSource = await new DataSource(typeOrmOptions(url, 2)).initialize();
  await runMigrations(dataSource);
  await dataSource.destroy();
  project.provide('databaseUrl', url);

  return async () => {
    await embedded?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
