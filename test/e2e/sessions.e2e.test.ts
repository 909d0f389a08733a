import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newUser, PASSWORD, testUser, tokenClaims, type TestUser } from '../support/factories.js';
import { TestSocket } from '../support/ws-client.js';

let app: TestApp;
let db: pg.Client;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  app = await startApp();
  db = new pg.Client({ connectionString: inject('databaseUrl') });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await app?.close();
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

async function connect(target: TestApp, token: string): Promise<TestSocket> {
  const socket = await TestSocket.connect(target.wsUrl, { token });
  sockets.push(socket);
  return socket;
}

/** A second session of `user` (another device), with its own user agent. */
async function logIn(target: TestApp, user: TestUser, userAgent = 'parley-tests'): Promise<TestUser> {
  const response = await target.http().post('/api/v1/auth/login').set('User-Agent', userAgent).send({ username: user.username, password: PASSWORD });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return testUser(user.username, response.body);
}

function refresh(target: TestApp, refreshToken: string) {
  return target.http().post('/api/v1/auth/refresh').send({ refreshToken });
}

async function status(target: TestApp, user: { auth: { Authorization: string } }): Promise<number> {
  return (await target.http().get('/api/v1/users/me').set(user.auth)).status;
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('login and refresh', () => {
  it('answers a refresh token and the access token’s expiry with login and register', async () => {
    const user = await newUser(app);
    const login = await app.http().post('/api/v1/auth/login').send({ username: user.username, password: PASSWORD });
    for (const body of [login.body]) {
      expect(body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Date.parse(body.expiresAt)).toBe(tokenClaims(body.accessToken).exp * 1000);
    }
    expect(user.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('rotates: a refresh answers a new pair, and the refresh token given is used up', async () => {
    const user = await newUser(app);
    const first = await refresh(app, user.refreshToken);
    expect(first.status).toBe(200);
    expect(Object.keys(first.body).sort()).toEqual(['accessToken', 'expiresAt', 'refreshToken']);
    expect(first.body.refreshToken).not.toBe(user.refreshToken);
    expect(tokenClaims(first.body.accessToken).sid).toBe(user.sessionId);
    expect(await status(app, { auth: bearer(first.body.accessToken) })).toBe(200);

    const second = await refresh(app, first.body.refreshToken);
    expect(second.status).toBe(200);
    expect(await status(app, { auth: bearer(second.body.accessToken) })).toBe(200);
  });

  it('ends the whole session when a used-up refresh token is presented again, and no other session', async () => {
    const user = await newUser(app);
    const otherDevice = await logIn(app, user);
    const socket = await connect(app, user.token);
    const otherSocket = await connect(app, otherDevice.token);
    const rotated = await refresh(app, user.refreshToken);
    expect(rotated.status).toBe(200);

    // The stolen copy of the first refresh token is replayed.
    const replay = await refresh(app, user.refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Invalid or expired refresh token' });
    expect(await socket.waitForClose()).toBe(4401);
    expect(await status(app, user)).toBe(401);
    expect(await status(app, { auth: bearer(rotated.body.accessToken) })).toBe(401);
    expect((await refresh(app, rotated.body.refreshToken)).status).toBe(401);
    expect((await app.http().post('/api/v1/auth/ws-ticket').set(bearer(rotated.body.accessToken))).status).toBe(401);

    expect(await status(app, otherDevice)).toBe(200);
    otherSocket.send(JSON.stringify({ type: 'ping' }));
    expect(await otherSocket.next((frame) => frame.type === 'pong')).toEqual({ type: 'pong' });
  });

  it('lets exactly one of two concurrent refreshes with one token win; the other is a replay', async () => {
    const user = await newUser(app);
    const answers = await Promise.all([refresh(app, user.refreshToken), refresh(app, user.refreshToken)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 401]);
    const winner = answers.find((answer) => answer.status === 200)!;
    expect(await status(app, { auth: bearer(winner.body.accessToken) })).toBe(401);
  });

  it('refuses the message routes too once the session has ended', async () => {
    const [alice, bob] = [await newUser(app), await newUser(app)];
    const sent = await app.http().post('/api/v1/messages').set(alice.auth).send({ recipientId: bob.id, body: 'before' });
    expect(sent.status).toBe(201);
    expect((await app.http().get(`/api/v1/messages/${sent.body.id}`).set(alice.auth)).status).toBe(200);
    expect((await app.http().post('/api/v1/auth/logout').set(alice.auth)).status).toBe(204);
    const after = await app.http().post('/api/v1/messages').set(alice.auth).send({ conversationId: sent.body.conversationId, body: 'after' });
    expect(after.status).toBe(401);
    expect((await app.http().get(`/api/v1/messages/${sent.body.id}`).set(alice.auth)).status).toBe(401);
  });

  it('stores refresh tokens only as hashes', async () => {
    const user = await newUser(app);
    const { rows } = await db.query(
      `SELECT t.token_hash FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE s.user_id = $1`,
      [user.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).not.toContain(user.refreshToken);
    expect(JSON.stringify(rows)).not.toContain(user.refreshToken);
  });

  it('refuses unknown, idle-expired and deactivated users’ refresh tokens with 401', async () => {
    expect((await refresh(app, 'x'.repeat(43))).status).toBe(401);

    const idle = await newUser(app);
    await db.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, [idle.sessionId]);
    expect((await refresh(app, idle.refreshToken)).status).toBe(401);

    const deactivated = await newUser(app);
    await db.query('UPDATE users SET active = false WHERE id = $1', [deactivated.id]);
    expect((await refresh(app, deactivated.refreshToken)).status).toBe(401);
  });
});

describe('logout and the sessions list', () => {
  it('logout ends the caller’s session at once: refresh token, access tokens and sockets', async () => {
    const user = await newUser(app);
    const otherDevice = await logIn(app, user);
    const socket = await connect(app, user.token);
    const logout = await app.http().post('/api/v1/auth/logout').set(user.auth);
    expect(logout.status).toBe(204);
    expect(await socket.waitForClose()).toBe(4401);
    expect(await status(app, user)).toBe(401);
    expect((await refresh(app, user.refreshToken)).status).toBe(401);
    expect(await status(app, otherDevice)).toBe(200);
  });

  it('lists the caller’s live sessions, marks the current one, and revokes another as logout does', async () => {
    const user = await newUser(app);
    const phone = await logIn(app, user, 'Phone/1.0');
    const laptop = await logIn(app, user, 'Laptop/2.0');
    const phoneSocket = await connect(app, phone.token);
    const list = await app.http().get('/api/v1/auth/sessions').set(laptop.auth);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(3);
    for (const item of list.body.items) {
      expect(Object.keys(item).sort()).toEqual(['createdAt', 'current', 'id', 'lastUsedAt', 'userAgent']);
    }
    expect(list.body.items.filter((item: { current: boolean }) => item.current).map((item: { id: string }) => item.id)).toEqual([laptop.sessionId]);
    expect(list.body.items.find((item: { id: string }) => item.id === phone.sessionId).userAgent).toBe('Phone/1.0');

    const revoke = await app.http().delete(`/api/v1/auth/sessions/${phone.sessionId}`).set(laptop.auth);
    expect(revoke.status).toBe(204);
    expect(await phoneSocket.waitForClose()).toBe(4401);
    expect(await status(app, phone)).toBe(401);
    expect((await refresh(app, phone.refreshToken)).status).toBe(401);
    const after = await app.http().get('/api/v1/auth/sessions').set(laptop.auth);
    expect(after.body.items.map((item: { id: string }) => item.id).sort()).toEqual([user.sessionId, laptop.sessionId].sort());
    // Ended already: nothing left to revoke.
    expect((await app.http().delete(`/api/v1/auth/sessions/${phone.sessionId}`).set(laptop.auth)).status).toBe(404);
  });

  it('answers 404 for another user’s session, which stays live', async () => {
    const [owner, stranger] = [await newUser(app), await newUser(app)];
    const response = await app.http().delete(`/api/v1/auth/sessions/${owner.sessionId}`).set(stranger.auth);
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Session not found' });
    expect(await status(app, owner)).toBe(200);
  });
});

describe('a socket lives no longer than its access token', () => {
  let shortLived: TestApp;

  beforeAll(async () => {
    shortLived = await startApp({ ACCESS_TOKEN_TTL_SECONDS: '5' });
  });

  afterAll(async () => {
    await shortLived?.close();
  });

  it('warns with token.expiring and closes with 4401 at expiry a socket that did not renew', async () => {
    const user = await newUser(shortLived);
    const socket = await connect(shortLived, user.token);
    // Less than 60 s left: the warning comes at once.
    const warning = await socket.next((frame) => frame.type === 'token.expiring');
    expect(warning).toEqual({ type: 'token.expiring', expiresAt: new Date(tokenClaims(user.token).exp * 1000).toISOString() });
    expect(await socket.waitForClose(10_000)).toBe(4401);
    expect(Date.now()).toBeGreaterThanOrEqual(tokenClaims(user.token).exp * 1000);
  });

  it('closes a socket opened with a ticket when the token that asked for it expires', async () => {
    const user = await newUser(shortLived);
    const ticket = await shortLived.http().post('/api/v1/auth/ws-ticket').set(user.auth);
    const socket = await TestSocket.connect(shortLived.wsUrl, { ticket: ticket.body.ticket });
    sockets.push(socket);
    await socket.next((frame) => frame.type === 'token.expiring');
    expect(await socket.waitForClose(10_000)).toBe(4401);
  });

  it('keeps a socket that answers with an auth frame carrying a fresh token, past the first expiry', async () => {
    const user = await newUser(shortLived);
    const socket = await connect(shortLived, user.token);
    await socket.next((frame) => frame.type === 'token.expiring');
    // Renew twice, each time with the token of a fresh refresh, across two expiries.
    let refreshToken = user.refreshToken;
    let accessToken = user.token;
    for (let round = 0; round < 2; round++) {
      const renewed = await refresh(shortLived, refreshToken);
      expect(renewed.status).toBe(200);
      ({ refreshToken, accessToken } = renewed.body);
      socket.send(JSON.stringify({ type: 'auth', accessToken }));
      const next = await socket.next((frame) => frame.type === 'token.expiring');
      expect(next).toEqual({ type: 'token.expiring', expiresAt: renewed.body.expiresAt.replace(/\.\d{3}Z$/, '.000Z') });
      // Wait out the previous token's life.
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
    expect(Date.now()).toBeGreaterThan(tokenClaims(user.token).exp * 1000);
    expect(socket.closeCode).toBeUndefined();
    socket.send(JSON.stringify({ type: 'ping' }));
    expect(await socket.next((frame) => frame.type === 'pong')).toEqual({ type: 'pong' });
  });

  it.each([
    ['another user’s token', async () => (await newUser(shortLived)).token],
    ['a garbage token', async () => 'not.a.jwt'],
    ['no token', async () => undefined],
    ['the token of an ended session', async () => {
      const other = await newUser(shortLived);
      await shortLived.http().post('/api/v1/auth/logout').set(other.auth);
      return other.token;
    }],
  ])('closes with 4401 a socket renewed with %s', async (_case, token) => {
    const user = await newUser(shortLived);
    const socket = await connect(shortLived, user.token);
    socket.send(JSON.stringify({ type: 'auth', accessToken: await token() }));
    expect(await socket.waitForClose(3000)).toBe(4401);
  });
});
