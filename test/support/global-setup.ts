import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import type { TestProject } from 'vitest/node';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { runMigrations } from '../../src/database/migrate.js';
import { typeOrmOptions } from '../../src/database/typeorm-options.js';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * Tests that run the service as its own process use the built `dist/` (decorated code must be
 * compiled by tsc, not esbuild). Rebuild when any source is newer than the build.
 */
async function buildIfStale(): Promise<void> {
  const built = await stat(path.join(root, 'dist/src/main.js')).then((s) => s.mtimeMs, () => 0);
  const newest = async (dir: string): Promise<number> => {
    let latest = 0;
    for (const entry of await readdir(path.join(root, dir), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) latest = Math.max(latest, (await stat(path.join(entry.parentPath, entry.name))).mtimeMs);
    }
    return latest;
  };
  if (built > Math.max(await newest('src'), await newest('migrations'))) return;
  execFileSync(process.execPath, [path.join(root, 'node_modules/@nestjs/cli/bin/nest.js'), 'build'], { cwd: root, stdio: 'inherit' });
}

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
  await buildIfStale();
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
