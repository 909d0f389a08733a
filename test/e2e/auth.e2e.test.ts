import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../src/config/app-config.js';
import { startApp, type TestApp } from '../support/app.js';
import { newUser, PASSWORD, uniqueName } from '../support/factories.js';

let app: TestApp;

beforeAll(async () => {
  app = await startApp();
});

afterAll(async () => {
  await app.close();
});

describe('register and login', () => {
  it('registers, logs in case-insensitively, and rejects a taken username with 409', async () => {
    const username = uniqueName('Mixed');
    const registered = await app
      .http()
      .post('/api/v1/auth/register')
      .send({ username, password: PASSWORD, displayName: '  Ada L.  ' });
    expect(registered.status).toBe(201);
    expect(registered.body.user).toEqual({
      id: expect.any(String),
      username: username.toLowerCase(),
      displayName: 'Ada L.',
      createdAt: expect.any(String),
      // The caller's own user carries its sharing settings (API-next C).
      shareReadReceipts: true,
      sharePresence: true,
    });
    expect(registered.body.accessToken).toEqual(expect.any(String));

    const taken = await app.http().post('/api/v1/auth/register').send({ username: username.toUpperCase(), password: PASSWORD });
    expect(taken.status).toBe(409);
    expect(taken.body).toEqual({ statusCode: 409, error: 'Conflict', message: 'Username is already taken' });

    const login = await app.http().post('/api/v1/auth/login').send({ username: username.toUpperCase(), password: PASSWORD });
    expect(login.status).toBe(200);
    expect(login.body.user).toEqual(registered.body.user);
    const me = await app.http().get('/api/v1/users/me').set('Authorization', `Bearer ${login.body.accessToken}`);
    expect(me.status).toBe(200);
    // The caller's own user, with what it shares (PATCH /users/me).
    expect(me.body).toEqual({ ...registered.body.user, shareReadReceipts: true, sharePresence: true });
  });

  it('answers 401 alike for a wrong password and an unknown user, and never leaks the hash', async () => {
    const user = await newUser(app);
    const wrong = await app.http().post('/api/v1/auth/login').send({ username: user.username, password: 'wrong password' });
    const unknown = await app.http().post('/api/v1/auth/login').send({ username: uniqueName('ghost'), password: PASSWORD });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    const me = await app.http().get('/api/v1/users/me').set(user.auth);
    expect(JSON.stringify(me.body)).not.toMatch(/scrypt|password/i);
  });

  it('stores passwords as salted scrypt hashes', async () => {
    const user = await newUser(app);
    const dataSource = app.app.get((await import('typeorm')).DataSource);
    const [row] = await dataSource.query('SELECT password_hash FROM users WHERE id = $1', [user.id]);
    expect(row.password_hash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(row.password_hash).not.toContain(PASSWORD);
  });
});

describe('access tokens', () => {
  it.each([
    ['no header', undefined],
    ['a malformed header', 'Token abc'],
    ['a garbage token', 'Bearer not.a.jwt'],
    ['a token signed with another secret', 'Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwidHYiOjB9.3bQ6cDVsW0rBqvF5Q8sRrkJ3yZ5bQ2gT7HkXb6kHk2c'],
  ])('refuses %s with 401 on every protected route', async (_case, header) => {
    for (const [method, path] of [
      ['get', '/api/v1/users/me'],
      ['get', '/api/v1/users'],
      ['get', '/api/v1/conversations'],
      ['post', '/api/v1/conversations'],
      ['get', '/api/v1/conversations/1'],
      ['post', '/api/v1/messages'],
      ['get', '/api/v1/messages/1'],
      ['post', '/api/v1/auth/ws-ticket'],
    ] as const) {
      const request = app.http()[method](path);
      if (header) request.set('Authorization', header);
      const response = await request;
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(response.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    }
  });

  it('rejects an expired token', async () => {
    const shortLived = await startApp({ ACCESS_TOKEN_TTL_SECONDS: '60' });
    try {
      const user = await newUser(shortLived);
      const { JwtService } = await import('@nestjs/jwt');
      const expired = await shortLived.app.get(JwtService).signAsync({ sub: user.id, tv: 0, sid: user.sessionId }, { expiresIn: -10 });
      const response = await shortLived.http().get('/api/v1/users/me').set('Authorization', `Bearer ${expired}`);
      expect(response.status).toBe(401);
    } finally {
      await shortLived.close();
    }
  });
  it('refuses a token signed with the secret but not as the server signs them', async () => {
    const user = await newUser(app);
    const { default: jwt } = await import('jsonwebtoken');
    const { APP_CONFIG } = await import('../../src/config/app-config.js');
    const { jwtSecret } = app.app.get<AppConfig>(APP_CONFIG);
    const expiry = { exp: Math.floor(Date.now() / 1000) + 600 };
    for (const claims of [
      { sub: user.id, tv: 0 }, // never expires
      { sub: '99999999999999999999', tv: 0, ...expiry }, // no bigint
      { sub: user.id, ...expiry }, // no token version
      { sub: user.id, tv: 0, ...expiry }, // no session: issued before sessions existed
    ]) {
      const token = jwt.sign(claims, jwtSecret, { algorithm: 'HS256' });
      const response = await app.http().get('/api/v1/users/me').set('Authorization', `Bearer ${token}`);
      expect(response.status, JSON.stringify(claims)).toBe(401);
    }
  });
});

describe('users', () => {
  it('searches active users other than the caller by username or display name, with a cursor', async () => {
    const tag = uniqueName('zq');
    const me = await app.http().post('/api/v1/auth/register').send({ username: `${tag}_me`, password: PASSWORD });
    const names = ['a', 'b', 'c'].map((suffix) => `${tag}_${suffix}`);
    for (const username of names) await app.http().post('/api/v1/auth/register').send({ username, password: PASSWORD });
    // Matched by display name only; "a_" sorts before the tag's "zq_".
    const fan = uniqueName('a');
    await app.http().post('/api/v1/auth/register').send({ username: fan, password: PASSWORD, displayName: `Fan of ${tag}` });
    const auth = { Authorization: `Bearer ${me.body.accessToken}` };

    const first = await app.http().get('/api/v1/users').query({ q: tag.toUpperCase(), limit: 2 }).set(auth);
    expect(first.status).toBe(200);
    expect(first.body.items.map((u: { username: string }) => u.username)).toEqual([fan, names[0]]);
    expect(first.body.items[0].displayName).toBe(`Fan of ${tag}`);
    const second = await app.http().get('/api/v1/users').query({ q: tag, limit: 2, cursor: first.body.nextCursor }).set(auth);
    expect(second.body.items.map((u: { username: string }) => u.username)).toEqual(names.slice(1));
    expect(second.body.nextCursor).toBeNull();

    // LIKE wildcards in q are matched literally: as a wildcard this would find every fan above.
    // (Not '%' alone: other test files, the fuzz test among them, may name users with a '%'.)
    const wildcard = await app.http().get('/api/v1/users').query({ q: `${tag}%` }).set(auth);
    expect(wildcard.body.items).toEqual([]);
  });
});

describe('ws tickets', () => {
  it('issues a single-use ticket valid for at most 60 s', async () => {
    const user = await newUser(app);
    const before = Date.now();
    const response = await app.http().post('/api/v1/auth/ws-ticket').set(user.auth);
    expect(response.status).toBe(201);
    expect(response.body.ticket).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const expiresAt = Date.parse(response.body.expiresAt);
    expect(expiresAt).toBeGreaterThan(before);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
  });
});
