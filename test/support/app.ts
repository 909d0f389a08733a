import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import supertest from 'supertest';
import { inject } from 'vitest';
import { createApp } from '../../src/app.setup.js';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  /** http://127.0.0.1:<port> */
  url: string;
  /** ws://127.0.0.1:<port>/ws */
  wsUrl: string;
  http: () => supertest.Agent;
  close: () => Promise<void>;
}

/** Suites register many users from one address; the rate-limit suite turns limits back on. */
export const NO_RATE_LIMITS = {
  RATE_LIMIT_LOGIN_PER_ADDRESS: 'off',
  RATE_LIMIT_LOGIN_PER_USERNAME: 'off',
  RATE_LIMIT_LOGIN_PER_USERNAME_GLOBAL: 'off',
  RATE_LIMIT_REGISTER_PER_ADDRESS: 'off',
  RATE_LIMIT_REFRESH_PER_ADDRESS: 'off',
  RATE_LIMIT_SEND_PER_USER: 'off',
  RATE_LIMIT_SEND_PER_ADDRESS: 'off',
};

/**
 * Deliveries: webhooks and pushes may go to the tests' own receivers on 127.0.0.1 (the tests of
 * the rules start apps with both set to false). The apps of all suites share one database and so
 * one job queue: only the suites of deliveries run its jobs (JOB_QUEUE_TASKS), each only its own
 * kind, so that no app takes another suite's jobs (a push is sent or not by what the app that runs
 * it knows of sockets); a second suite of a kind runs on a database of its own (own-database.ts).
 */
export const DELIVERIES_FOR_TESTS = { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true', JOB_QUEUE_TASKS: 'none' };

/** Attachments of this test process's apps, kept out of the checkout's `data/`. */
let storageDir: string | undefined;

/**
 * Test settings on top of the defaults: the shared test database, a cheap password hash, and
 * attachments in a temporary directory.
 */
export function testConfig(env: Record<string, string> = {}): AppConfig {
  storageDir ??= mkdtempSync(path.join(tmpdir(), 'parley-test-attachments-'));
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: inject('databaseUrl'),
    STORAGE_DIR: storageDir,
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256',
    SCRYPT_COST: '1024',
    DATABASE_POOL_SIZE: '4',
    ...NO_RATE_LIMITS,
    ...DELIVERIES_FOR_TESTS,
    ...env,
  });
}

/** Boots the real application (createApp, as main.ts does) on a free port. */
export async function startApp(env: Record<string, string> = {}): Promise<TestApp> {
  const config = testConfig(env);
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  return {
    app,
    config,
    url,
    wsUrl: `ws://127.0.0.1:${address.port}/ws`,
    http: () => supertest.agent(url),
    close: () => app.close(),
  };
}
