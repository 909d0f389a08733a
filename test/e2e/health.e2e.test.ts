import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newUser, PASSWORD } from '../support/factories.js';
import { hasRedisServer, startRedis } from '../support/processes.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('health', () => {
  let app: TestApp;
  let proxy: TcpProxy;

  beforeAll(async () => {
    // The app reaches the database through a proxy the test can cut, so the shared test
    // database stays up for the other suites.
    proxy = await startTcpProxy(inject('databaseUrl'));
    app = await startApp({ DATABASE_URL: proxy.url });
  });

  afterAll(async () => {
    proxy.restore();
    await app.close();
    await proxy.close();
  });

  it('live and ready answer 200 without a token', async () => {
    const live = await app.http().get('/health/live');
    expect(live.status).toBe(200);
    expect(live.body).toMatchObject({ status: 'ok' });
    const ready = await app.http().get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    expect(ready.body.info.redis).toBeUndefined();
  });

  it('ready answers 503 while the database is unreachable, live stays 200, and ready recovers', async () => {
    proxy.cut();
    const started = Date.now();
    const ready = await app.http().get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable', message: 'Not ready: database is down', details: { database: { status: 'down' } } });
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await app.http().get('/health/live')).status).toBe(200);
    // Requests that need the database get 503 too, not 500.
    expect((await app.http().post('/api/v1/auth/login').send({ username: 'nobody', password: 'whatever1' })).status).toBe(503);

    proxy.restore();
    await eventually(async () => (await app.http().get('/health/ready')).status === 200);
  });
});

describe.skipIf(!hasRedisServer)('health with REDIS_URL', () => {
  it('ready answers 503 while Redis is down and 200 once it is back', async () => {
    const redis = await startRedis();
    const app = await startApp({ REDIS_URL: redis.url });
    try {
      await eventually(async () => (await app.http().get('/health/ready')).status === 200);
      expect((await app.http().get('/health/ready')).body.info).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' } });

      await redis.stop();
      await eventually(async () => (await app.http().get('/health/ready')).status === 503);
      const down = await app.http().get('/health/ready');
      expect(down.body).toMatchObject({ statusCode: 503, message: 'Not ready: redis is down', details: { database: { status: 'up' }, redis: { status: 'down' } } });
      expect((await app.http().get('/health/live')).status).toBe(200);

      const again = await startRedis(redis.port);
      try {
        await eventually(async () => (await app.http().get('/health/ready')).status === 200, 20_000);
      } finally {
        await again.stop();
      }
    } finally {
      await app.close();
    }
  });

  it('keeps answering when Redis stops answering but keeps its connections: ready 503, sends and logins served', async () => {
    const redis = await startRedis();
    const proxy = await startTcpProxy(redis.url);
    // Rate limits on: their counts are the Redis commands every send and login waits on.
    const app = await startApp({
      REDIS_URL: proxy.url,
      RATE_LIMIT_SEND_PER_USER: '60/10',
      RATE_LIMIT_SEND_PER_ADDRESS: '600/10',
      RATE_LIMIT_LOGIN_PER_USERNAME: '10/60',
      RATE_LIMIT_LOGIN_PER_ADDRESS: '100/60',
    });
    try {
      await eventually(async () => (await app.http().get('/health/ready')).status === 200);
      const [alice, bob] = [await newUser(app), await newUser(app)];
      const conversationId = await newDirect(app, alice, bob);

      // Without a limit each of these waited for ever (the test's own timeout ends it).
      proxy.freeze();
      const sent = await app.http().post('/api/v1/messages').set(alice.auth).send({ conversationId, body: 'while Redis hangs' });
      expect(sent.status).toBe(201);
      const login = await app.http().post('/api/v1/auth/login').send({ username: bob.username, password: PASSWORD });
      expect(login.status).toBe(200);
      const ready = await app.http().get('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ details: { redis: { status: 'down' } } });

      proxy.thaw();
      await eventually(async () => (await app.http().get('/health/ready')).status === 200);
    } finally {
      await app.close();
      await proxy.close();
      await redis.stop();
    }
  }, 30_000);
});
