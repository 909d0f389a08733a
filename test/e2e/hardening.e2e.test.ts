import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newUser, PASSWORD, uniqueName } from '../support/factories.js';
import { hasRedisServer, startRedis, type RedisProcess } from '../support/processes.js';
import { HandshakeRefused, TestSocket } from '../support/ws-client.js';

describe('rate limits', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({
      RATE_LIMIT_LOGIN_PER_ADDRESS: '8/60',
      RATE_LIMIT_LOGIN_PER_USERNAME: '3/60',
      RATE_LIMIT_REGISTER_PER_ADDRESS: '6/60',
      RATE_LIMIT_SEND_PER_USER: '5/60',
      RATE_LIMIT_SEND_PER_ADDRESS: '8/60',
    });
  });

  afterAll(async () => {
    await app.close();
  });

  it('limits login attempts per username, then per address, with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await app.http().post('/api/v1/auth/login').send({ username: 'victim', password: `guess ${i}` })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const limited = await app.http().post('/api/v1/auth/login').send({ username: 'victim', password: 'guess' });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Too many requests, slow down' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);

    // Other usernames from the same address run into the per-address limit (8 in all).
    const others: number[] = [];
    for (let i = 0; i < 4; i++) others.push((await app.http().post('/api/v1/auth/login').send({ username: `other${i}`, password: 'x' })).status);
    expect(others).toEqual([401, 401, 401, 429]);
  });

  it('locks guessing out per username and address, lets the right password in from another address, and stops guessing from many', async () => {
    const lockApp = await startApp({
      // X-Forwarded-For from the test's own connections stands for the clients' addresses.
      TRUST_PROXY: 'loopback',
      RATE_LIMIT_LOGIN_PER_ADDRESS: '20/60',
      RATE_LIMIT_LOGIN_PER_USERNAME: '10/60',
      RATE_LIMIT_LOGIN_PER_USERNAME_GLOBAL: '30/3600',
    });
    try {
      const user = await newUser(lockApp);
      const login = (address: string, password: string) =>
        lockApp.http().post('/api/v1/auth/login').set('X-Forwarded-For', address).send({ username: user.username, password });

      // Ten wrong passwords from A lock A out for this user, even with the right one.
      const fromA: number[] = [];
      for (let i = 0; i < 11; i++) fromA.push((await login('203.0.113.1', `guess ${i}`)).status);
      expect(fromA).toEqual([...Array(10).fill(401), 429]);
      const rightFromA = await login('203.0.113.1', PASSWORD);
      expect(rightFromA.status).toBe(429);
      expect(Number(rightFromA.headers['retry-after'])).toBeGreaterThan(0);

      // The user, from an address with no failures, gets in while A's lock is on.
      const rightFromB = await login('203.0.113.2', PASSWORD);
      expect(rightFromB.status).toBe(200);
      expect(rightFromB.body.user.id).toBe(user.id);

      // Guessing spread over many addresses, each far below its own limits, meets the limit per
      // username: 30 attempts in all, of which A made 10 (its refused ones not counted) and B 1.
      const spread: number[] = [];
      for (let i = 0; i < 20; i++) spread.push((await login(`198.51.100.${i + 1}`, `spread ${i}`)).status);
      expect(spread).toEqual([...Array(19).fill(401), 429]);
      // The price of stopping it: until the window passes, the right password is refused too.
      expect((await login('192.0.2.50', PASSWORD)).status).toBe(429);
    } finally {
      await lockApp.close();
    }
  });

  it('limits registrations per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push((await app.http().post('/api/v1/auth/register').send({ username: uniqueName(), password: PASSWORD })).status);
    }
    expect(statuses.slice(0, 6)).toEqual([201, 201, 201, 201, 201, 201]);
    expect(statuses[6]).toBe(429);
  });

  it('limits sending per user and per address, and stores nothing it refused', async () => {
    // Users made directly: the register limit above is spent for this address.
    const limitedApp = await startApp({ RATE_LIMIT_SEND_PER_USER: '5/60', RATE_LIMIT_SEND_PER_ADDRESS: '8/60' });
    try {
      const [a, b, c] = [await newUser(limitedApp), await newUser(limitedApp), await newUser(limitedApp)];
      const conversationId = await newDirect(limitedApp, a, b);
      const post = (user: typeof a, body: string) =>
        limitedApp.http().post('/api/v1/messages').set(user.auth).send({ conversationId, body });
      const fromA: number[] = [];
      for (let i = 0; i < 6; i++) fromA.push((await post(a, `a${i}`)).status);
      expect(fromA).toEqual([201, 201, 201, 201, 201, 429]);
      // B has its own per-user budget, but the address has only 8 sends in all, 5 of them A's
      // (a request refused per user is not counted against the address).
      const fromB: number[] = [];
      for (let i = 0; i < 4; i++) fromB.push((await post(b, `b${i}`)).status);
      expect(fromB).toEqual([201, 201, 201, 429]);
      // c is not a member: limited or not, it never stores anything.
      expect([404, 429]).toContain((await post(c, 'c')).status);
      const history = await limitedApp.http().get(`/api/v1/conversations/${conversationId}/messages`).set(a.auth);
      expect(history.body.items.map((m: { seq: number }) => m.seq)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    } finally {
      await limitedApp.close();
    }
  });
});

describe.skipIf(!hasRedisServer)('rate limits with REDIS_URL', () => {
  it('counts sends for the installation, across instances, and lets them through while Redis is down', async () => {
    const redis = await startRedis();
    const limits = { REDIS_URL: redis.url, RATE_LIMIT_SEND_PER_USER: '5/60', RATE_LIMIT_SEND_PER_ADDRESS: '8/60' };
    const [one, two] = [await startApp(limits), await startApp(limits)];
    let restarted: RedisProcess | undefined;
    try {
      const [a, b] = [await newUser(one), await newUser(one)];
      const conversationId = await newDirect(one, a, b);
      const post = (app: TestApp, user: typeof a, body: string) =>
        app.http().post('/api/v1/messages').set(user.auth).send({ conversationId, body });
      // A's five sends are spread over both instances; the sixth is over, on either.
      const fromA: number[] = [];
      for (let i = 0; i < 6; i++) fromA.push((await post(i % 2 ? two : one, a, `a${i}`)).status);
      expect(fromA).toEqual([201, 201, 201, 201, 201, 429]);
      const limited = await post(two, a, 'again');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Too many requests, slow down' });
      // The address has 8 sends in all, 5 of them A's: refused sends are not counted against it.
      const fromB: number[] = [];
      for (let i = 0; i < 4; i++) fromB.push((await post(i % 2 ? one : two, b, `b${i}`)).status);
      expect(fromB).toEqual([201, 201, 201, 429]);

      // A limiter must not take the service down with it: with the store gone, sends go through.
      const warnings = vi.spyOn(Logger.prototype, 'warn');
      const notices = vi.spyOn(Logger.prototype, 'log');
      const aboutTheStore = (spy: typeof warnings) =>
        spy.mock.calls.map(([message]) => String(message)).filter((message) => message.startsWith('Rate limit store'));
      await redis.stop();
      expect((await post(one, b, 'while Redis is down')).status).toBe(201);
      expect((await post(one, b, 'still down')).status).toBe(201);
      // Said once for the outage, not once for each request (or each of its limits).
      expect(aboutTheStore(warnings)).toEqual([expect.stringContaining('Rate limit store unavailable')]);
      // An outage that goes on is mentioned again after a minute.
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61_000 });
      try {
        expect((await post(one, b, 'a minute later')).status).toBe(201);
      } finally {
        vi.useRealTimers();
      }
      expect(aboutTheStore(warnings)).toEqual([
        expect.stringContaining('Rate limit store unavailable'),
        expect.stringContaining('Rate limit store still unavailable after 61 s'),
      ]);
      const history = await one.http().get(`/api/v1/conversations/${conversationId}/messages`).set(a.auth);
      expect(history.body.items.map((m: { body: string }) => m.body)).toEqual([
        'a minute later', 'still down', 'while Redis is down', 'b2', 'b1', 'b0', 'a4', 'a3', 'a2', 'a1', 'a0',
      ]);

      // Back on the same address: counting resumes, and that is said once too.
      restarted = await startRedis(redis.port);
      await vi.waitFor(
        async () => {
          expect((await post(one, b, 'after')).status).toBe(201);
          expect(aboutTheStore(notices)).toEqual([expect.stringContaining('Rate limit store available again')]);
        },
        { timeout: 10_000, interval: 200 },
      );
      expect(aboutTheStore(warnings)).toHaveLength(2);
    } finally {
      vi.restoreAllMocks();
      await Promise.all([one.close(), two.close()]);
      await redis.stop();
      await restarted?.stop();
    }
  });
});

describe('browsers and sockets', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({ ALLOWED_ORIGINS: 'https://chat.example.com', WS_MAX_SOCKETS_PER_USER: '3' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('sends security headers', async () => {
    // The API's answers: OWASP's set for a REST API, and not stored in caches.
    const api = await app.http().get('/api/v1/users/me');
    expect(api.headers).toMatchObject({
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    });
    expect(api.headers['x-powered-by']).toBeUndefined();
    // Pages (Swagger UI here, the web client alike): helmet's whole set.
    const page = await app.http().get('/docs');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    // The web client's styles are its own stylesheet: no inline <style>, no style attributes,
    // nothing from elsewhere (helmet's default allowed `https: 'unsafe-inline'`).
    const client = await app.http().get('/');
    expect(client.headers['content-security-policy']).toMatch(/(^|;)style-src 'self'(;|$)/);
    expect(client.headers['content-security-policy']).not.toMatch(/unsafe-inline|style-src-attr/);
    expect(page.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['strict-transport-security']).toBeDefined();
    expect(page.headers['x-powered-by']).toBeUndefined();
  });

  it('answers CORS preflights only for ALLOWED_ORIGINS', async () => {
    const allowed = await app
      .http()
      .options('/api/v1/messages')
      .set('Origin', 'https://chat.example.com')
      .set('Access-Control-Request-Method', 'POST');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://chat.example.com');
    const foreign = await app
      .http()
      .options('/api/v1/messages')
      .set('Origin', 'https://evil.example.net')
      .set('Access-Control-Request-Method', 'POST');
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    // Every method the API uses, for a browser client on another origin.
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const preflight = await app
        .http()
        .options('/api/v1/messages/1')
        .set('Origin', 'https://chat.example.com')
        .set('Access-Control-Request-Method', method)
        .set('Access-Control-Request-Headers', 'authorization, content-type');
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-methods']).toContain(method);
      expect(preflight.headers['access-control-allow-headers']).toBe('authorization, content-type');
    }
    // A client backing off must be able to read Retry-After.
    const answer = await app.http().get('/api/v1/users/me').set('Origin', 'https://chat.example.com');
    expect(answer.headers['access-control-expose-headers']).toBe('Retry-After, X-Request-Id');
    // Not a preflight (no Origin): an empty answer, not an error outside the contract's shape.
    const plain = await app.http().options('/api/v1/messages');
    expect(plain.status).toBe(204);
    expect(plain.text).toBe('');
  });

  it('limits the sockets one user may hold open', async () => {
    const user = await newUser(app);
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await TestSocket.connect(app.wsUrl, { token: user.token }));
    await expect(TestSocket.open(app.wsUrl, { token: user.token })).rejects.toEqual(new HandshakeRefused(429));
    open.pop()!.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    open.push(await TestSocket.connect(app.wsUrl, { token: user.token }));
    for (const socket of open) socket.close();
  });
});
