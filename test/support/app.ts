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
  RATE_LIMIT_REGISTER_PER_ADDRESS: 'off',
  RATE_LIMIT_SEND_PER_USER: 'off',
  RATE_LIMIT_SEND_PER_ADDRESS: 'off',
};

/** Test settings on top of the defaults: the shared test database and a cheap password hash. */
export function testConfig(env: Record<string, string> = {}): AppConfig {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: inject('databaseUrl'),
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256',
    SCRYPT_COST: '1024',
    DATABASE_POOL_SIZE: '4',
    ...NO_RATE_LIMITS,
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
