import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newUser, send } from '../support/factories.js';
import { closeCodeOf, maskedFrame, Opcode, RawWebSocket } from '../support/raw-ws.js';
import { forMessage, HandshakeRefused, TestSocket } from '../support/ws-client.js';

let app: TestApp;

beforeAll(async () => {
  app = await startApp({ ALLOWED_ORIGINS: 'https://chat.example.com', WS_MAX_FRAME_BYTES: '1024' });
});

afterAll(async () => {
  await app.close();
});

async function refusal(options: Parameters<typeof TestSocket.open>[1], url = app.wsUrl): Promise<number> {
  try {
    const socket = await TestSocket.open(url, options);
    socket.close();
    return 101;
  } catch (error) {
    if (error instanceof HandshakeRefused) return error.status;
    throw error;
  }
}

describe('handshake', () => {
  it('accepts a bearer token and sends ready first', async () => {
    const user = await newUser(app);
    const socket = await TestSocket.open(app.wsUrl, { token: user.token });
    expect(await socket.next(() => true)).toEqual({ type: 'ready', userId: user.id });
    socket.close();
  });

  it('refuses handshakes without valid credentials with 401', async () => {
    expect(await refusal({})).toBe(401);
    expect(await refusal({ token: 'garbage' })).toBe(401);
    expect(await refusal({ ticket: 'not-a-ticket' })).toBe(401);
  });

  it('accepts a ticket exactly once', async () => {
    const user = await newUser(app);
    const { body } = await app.http().post('/api/v1/auth/ws-ticket').set(user.auth);
    const socket = await TestSocket.connect(app.wsUrl, { ticket: body.ticket });
    expect(await refusal({ ticket: body.ticket })).toBe(401);
    socket.close();
  });

  it('refuses an expired ticket', async () => {
    const user = await newUser(app);
    const { body } = await app.http().post('/api/v1/auth/ws-ticket').set(user.auth);
    const { DataSource } = await import('typeorm');
    await app.app.get(DataSource).query(`UPDATE ws_tickets SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [user.id]);
    expect(await refusal({ ticket: body.ticket })).toBe(401);
  });

  it("refuses a ticket once its user's tokens are revoked", async () => {
    const user = await newUser(app);
    const { body } = await app.http().post('/api/v1/auth/ws-ticket').set(user.auth);
    const { DataSource } = await import('typeorm');
    // What deactivating (then reactivating) the user or changing its password does.
    await app.app.get(DataSource).query(`UPDATE users SET token_version = token_version + 1 WHERE id = $1`, [user.id]);
    expect(await refusal({ ticket: body.ticket })).toBe(401);
  });

  it('checks Origin against ALLOWED_ORIGINS (cross-site WebSocket hijacking)', async () => {
    const user = await newUser(app);
    expect(await refusal({ token: user.token, origin: 'https://evil.example.net' })).toBe(403);
    const allowed = await TestSocket.connect(app.wsUrl, { token: user.token, origin: 'https://chat.example.com' });
    allowed.close();
  });

  it('serves the socket only at /ws', async () => {
    const user = await newUser(app);
    await expect(TestSocket.open(app.wsUrl.replace('/ws', '/other'), { token: user.token })).rejects.toEqual(new HandshakeRefused(404));
  });
});

/**
 * A request on a connection of its own, with the headers given (an Upgrade among them); a body
 * given in parts is sent chunked, unless the headers give its Content-Length.
 */
function requestAskingUpgrade(
  path: string,
  headers: Record<string, string>,
  body: string[] = [],
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${app.url}${path}`, { method: body.length === 0 ? 'GET' : 'POST', headers, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
    });
    request.on('upgrade', () => reject(new Error('the server switched protocols')));
    request.on('error', reject);
    // The parts go out 20 ms apart, so that the server receives them apart.
    void (async () => {
      for (const part of body.slice(0, -1)) {
        request.write(part);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      request.end(body.at(-1));
    })();
  });
}

const WEBSOCKET_HANDSHAKE = {
  Connection: 'Upgrade',
  Upgrade: 'websocket',
  'Sec-WebSocket-Version': '13',
  'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
};
// What Java's HttpClient and `curl --http2` send on plain HTTP, asking for HTTP/2.
const H2C_UPGRADE = { Connection: 'Upgrade, HTTP2-Settings', Upgrade: 'h2c', 'HTTP2-Settings': 'AAMAAABkAAQCAAAAAAIAAAAA' };

describe('upgrade requests', () => {
  it('answers a WebSocket handshake at another path with 404 in the error shape', async () => {
    const response = await requestAskingUpgrade('/api/v1/ws', WEBSOCKET_HANDSHAKE);
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(response.body)).toEqual({ statusCode: 404, error: 'Not Found', message: 'Cannot GET /api/v1/ws' });
  });

  it('answers refused handshakes in the error shape', async () => {
    const unauthorized = await requestAskingUpgrade('/ws', WEBSOCKET_HANDSHAKE);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(unauthorized.body)).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Unauthorized' });
    const user = await newUser(app);
    const foreign = await requestAskingUpgrade('/ws', { ...WEBSOCKET_HANDSHAKE, Authorization: `Bearer ${user.token}`, Origin: 'https://evil.example.net' });
    expect(JSON.parse(foreign.body)).toEqual({ statusCode: 403, error: 'Forbidden', message: 'Origin not allowed' });
  });

  it.each([
    ['no key', { ...WEBSOCKET_HANDSHAKE, 'Sec-WebSocket-Key': 'not-a-key' }, 400, 'Missing or invalid Sec-WebSocket-Key header'],
    ['a version it does not speak', { ...WEBSOCKET_HANDSHAKE, 'Sec-WebSocket-Version': '7' }, 400, 'Missing or invalid Sec-WebSocket-Version header'],
    ['a malformed subprotocol list', { ...WEBSOCKET_HANDSHAKE, 'Sec-WebSocket-Protocol': 'chat,,json' }, 400, 'Invalid Sec-WebSocket-Protocol header'],
  ])('answers a malformed handshake (%s) in the error shape', async (_case, headers, status, message) => {
    const response = await requestAskingUpgrade('/ws', headers);
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(response.body)).toEqual({ statusCode: status, error: 'Bad Request', message });
  });

  it('tells a client of another WebSocket version which it speaks, and a POST handshake that only GET is allowed', async () => {
    const version = await requestAskingUpgrade('/ws', { ...WEBSOCKET_HANDSHAKE, 'Sec-WebSocket-Version': '7' });
    expect(version.headers['sec-websocket-version']).toBe('13, 8');
    const post = await requestAskingUpgrade('/ws', { ...WEBSOCKET_HANDSHAKE, 'Content-Length': '2' }, ['{}']);
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
    expect(JSON.parse(post.body)).toEqual({ statusCode: 405, error: 'Method Not Allowed', message: 'Invalid HTTP method' });
  });

  it('answers a request asking for HTTP/2 (h2c) as the plain HTTP/1.1 request it also is', async () => {
    const live = await requestAskingUpgrade('/health/live', H2C_UPGRADE);
    expect(live.status).toBe(200);
    expect(live.headers.connection).toBe('close');
    const user = await newUser(app);
    const me = await requestAskingUpgrade('/api/v1/users/me', { ...H2C_UPGRADE, Authorization: `Bearer ${user.token}` });
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ id: user.id });
    const missing = await requestAskingUpgrade('/api/v1/nothing-here', H2C_UPGRADE);
    expect(JSON.parse(missing.body)).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });

  it('reads the body of a request asking for h2c, as Java sends a POST on a new connection', async () => {
    const username = `h2c_${Date.now()}`;
    const json = { ...H2C_UPGRADE, 'Content-Type': 'application/json' };
    const registered = await requestAskingUpgrade('/api/v1/auth/register', json, [JSON.stringify({ username, password: 'password123' })]);
    expect(registered.status).toBe(201);
    expect(JSON.parse(registered.body).user).toMatchObject({ username });
    const login = JSON.stringify({ username, password: 'password123' });
    const [start, rest] = [login.slice(0, 10), login.slice(10)];
    const loggedIn = await requestAskingUpgrade('/api/v1/auth/login', { ...json, 'Content-Length': String(login.length) }, [start, rest]);
    expect(loggedIn.status).toBe(200);
    const refused = await requestAskingUpgrade('/api/v1/auth/register', json, [JSON.stringify({ username: 'x', password: 'password123' })]);
    expect(JSON.parse(refused.body)).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  });

  it('answers 411 to a request asking for h2c whose body has no length', async () => {
    const response = await requestAskingUpgrade('/api/v1/auth/login', { ...H2C_UPGRADE, 'Content-Type': 'application/json' }, ['{"username":', '"a"}']);
    expect(response.status).toBe(411);
    expect(JSON.parse(response.body)).toEqual({
      statusCode: 411,
      error: 'Length Required',
      message: 'A request asking for an upgrade must give its body a Content-Length',
    });
  });
});

describe('frames from clients', () => {
  it('answers ping with pong', async () => {
    const socket = await TestSocket.connect(app.wsUrl, { token: (await newUser(app)).token });
    socket.send(JSON.stringify({ type: 'ping' }));
    expect(await socket.next((f) => f.type === 'pong')).toEqual({ type: 'pong' });
    socket.close();
  });

  it.each([
    ['text that is not JSON', 'hello', 1007],
    ['JSON that is not an object', '[1,2,3]', 1007],
    ['an object without a type', '{"kind":"ping"}', 1007],
    ['a binary frame', Buffer.from([1, 2, 3]), 1003],
    ['a frame over the size limit', JSON.stringify({ type: 'ping', pad: 'x'.repeat(2000) }), 1009],
  ])('closes only the socket that sends %s', async (_case, data, code) => {
    const user = await newUser(app);
    const peer = await newUser(app);
    const conversationId = await newDirect(app, peer, user);
    const offender = await TestSocket.connect(app.wsUrl, { token: user.token });
    const bystander = await TestSocket.connect(app.wsUrl, { token: user.token });

    offender.send(data);
    expect(await offender.waitForClose()).toBe(code);

    const message = await send(app, peer, conversationId, 'still here?');
    await bystander.next(forMessage(message.id, 'message.created'));
    bystander.send(JSON.stringify({ type: 'ping' }));
    await bystander.next((f) => f.type === 'pong');
    bystander.close();
  });

  it('answers a ping control frame with a pong carrying its data, and a close frame with its own', async () => {
    const raw = await RawWebSocket.open(app.wsUrl, (await newUser(app)).token);
    raw.socket.write(maskedFrame(Opcode.Ping, Buffer.from('are you there')));
    raw.socket.write(maskedFrame(Opcode.Close, Buffer.from([0x03, 0xe8])));
    const frames = await raw.readToEnd(5000);
    expect(frames.filter((frame) => frame.opcode === Opcode.Pong).map((frame) => frame.payload.toString())).toEqual(['are you there']);
    expect(frames.filter((frame) => frame.opcode === Opcode.Close).map(closeCodeOf)).toEqual([1000]);
  });

  it.each([
    ['ping', Opcode.Ping],
    ['pong', Opcode.Pong],
  ])('counts %s control frames toward WS_MAX_FRAMES_PER_SECOND, closing with 1008', async (_kind, opcode) => {
    const raw = await RawWebSocket.open(app.wsUrl, (await newUser(app)).token);
    raw.socket.write(Buffer.concat(Array.from({ length: 100 }, () => maskedFrame(opcode))));
    const frames = await raw.readToEnd(5000);
    expect(frames.filter((frame) => frame.opcode === Opcode.Close).map(closeCodeOf)).toEqual([1008]);
    // Answered at most one second's worth (the default limit, 20) before it was cut off.
    expect(frames.filter((frame) => frame.opcode === Opcode.Pong).length).toBeLessThanOrEqual(20);
  });

  it('counts the fragments of a message as frames: one that never ends is closed with 1008', async () => {
    const raw = await RawWebSocket.open(app.wsUrl, (await newUser(app)).token);
    const fragments = Array.from({ length: 100 }, () => maskedFrame(Opcode.Continuation, Buffer.alloc(0), { final: false }));
    raw.socket.write(Buffer.concat([maskedFrame(Opcode.Text, Buffer.from('{'), { final: false }), ...fragments]));
    const frames = await raw.readToEnd(5000);
    expect(frames.filter((frame) => frame.opcode === Opcode.Close).map(closeCodeOf)).toEqual([1008]);
  });

  it('ignores unknown frame types (newer clients, older servers)', async () => {
    const socket = await TestSocket.connect(app.wsUrl, { token: (await newUser(app)).token });
    socket.send(JSON.stringify({ type: 'typing', conversationId: '1' }));
    socket.send(JSON.stringify({ type: 'ping' }));
    await socket.next((f) => f.type === 'pong');
    expect(socket.closeCode).toBeUndefined();
    socket.close();
  });
});

describe('slow consumers', () => {
  it('closes a socket whose unsent data passes the limit, leaving others alone', async () => {
    const small = await startApp({ WS_MAX_BUFFERED_BYTES: '65536' });
    try {
      const [sender, reader] = [await newUser(small), await newUser(small)];
      const conversationId = await newDirect(small, sender, reader);
      const slow = await TestSocket.connect(small.wsUrl, { token: reader.token });
      const healthy = await TestSocket.connect(small.wsUrl, { token: reader.token });
      // Stop reading from the TCP socket: once the kernel's buffers are full, the server's
      // own send buffer for it can only grow.
      (slow.socket as unknown as { _socket: import('node:net').Socket })._socket.pause();
      const { Notifier } = await import('../../src/notifications/notifier.js');
      const { ConnectionRegistry } = await import('../../src/notifications/connection-registry.js');
      const notifier = small.app.get(Notifier);
      const registry = small.app.get(ConnectionRegistry);
      let closed = false;
      // Frames carry ids, so it takes many to fill the loopback buffers; publish them directly.
      for (let batch = 0; batch < 500 && !closed; batch++) {
        for (let i = 0; i < 1000; i++) {
          notifier.publish([reader.id], { type: 'conversation.updated', conversationId });
        }
        await new Promise((resolve) => setImmediate(resolve));
        closed = registry.size < 2;
      }
      expect(closed).toBe(true);
      const last = await send(small, sender, conversationId, 'after');
      await healthy.next(forMessage(last.id, 'message.created'), 20_000);
      healthy.close();
      slow.socket.terminate();
    } finally {
      await small.close();
    }
  });
});

describe('heartbeat', () => {
  const HEARTBEAT_MS = 1000;
  let beating: TestApp;

  beforeAll(async () => {
    beating = await startApp({ WS_HEARTBEAT_MS: String(HEARTBEAT_MS) });
  });

  afterAll(async () => {
    await beating.close();
  });

  it('drops a socket that never answers a ping within two rounds, and keeps one that does', async () => {
    const [silent, answering] = [await newUser(beating), await newUser(beating)];
    // A bare socket that reads the server's pings but never answers them.
    const dead = await RawWebSocket.open(beating.wsUrl, silent.token);
    dead.socket.on('data', () => undefined).resume();
    const live = await TestSocket.connect(beating.wsUrl, { token: answering.token });
    const started = Date.now();
    await dead.waitForClose(2 * HEARTBEAT_MS + 2000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(HEARTBEAT_MS - 100);
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS));
    live.send(JSON.stringify({ type: 'ping' }));
    expect(await live.next((f) => f.type === 'pong')).toEqual({ type: 'pong' });
    expect(live.closeCode).toBeUndefined();
    live.close();
  });

  it('pings its sockets spread over the round, not all at once', async () => {
    const user = await newUser(beating);
    const sockets = await Promise.all(Array.from({ length: 20 }, () => TestSocket.connect(beating.wsUrl, { token: user.token })));
    const firstPings = await Promise.all(
      sockets.map((client) => new Promise<number>((resolve) => client.socket.once('ping', () => resolve(performance.now())))),
    );
    // Twenty sockets opened one after another take twenty consecutive slices of the round's hundred.
    expect(Math.max(...firstPings) - Math.min(...firstPings)).toBeGreaterThan(HEARTBEAT_MS / 10);
    for (const client of sockets) client.close();
  });
});

describe('users deactivated or revoked, or sessions ended, where no frame could reach their sockets', () => {
  let rechecking: TestApp;
  let db: pg.Client;

  beforeAll(async () => {
    rechecking = await startApp({ WS_RECHECK_MS: '1000' });
    db = new pg.Client({ connectionString: inject('databaseUrl') });
    await db.connect();
  });

  afterAll(async () => {
    await db.end();
    await rechecking.close();
  });

  it('closes their sockets with 4401 within WS_RECHECK_MS, and no one else’s', async () => {
    const users = [await newUser(rechecking), await newUser(rechecking), await newUser(rechecking), await newUser(rechecking)];
    const [deactivated, revoked, endedSession, bystander] = users;
    const sockets = await Promise.all(users.map((user) => TestSocket.connect(rechecking.wsUrl, { token: user.token })));
    // An operator's SQL, as the CLI's password reset bumps the token version: nothing tells the server.
    await db.query('UPDATE users SET active = false WHERE id = $1', [deactivated.id]);
    await db.query('UPDATE users SET token_version = token_version + 1 WHERE id = $1', [revoked.id]);
    // As a logout on another instance while Redis was down leaves it.
    await db.query('UPDATE sessions SET ended_at = now() WHERE id = $1', [endedSession.sessionId]);
    expect(await sockets[0].waitForClose(5000)).toBe(4401);
    expect(await sockets[1].waitForClose(5000)).toBe(4401);
    expect(await sockets[2].waitForClose(5000)).toBe(4401);
    sockets[3].send(JSON.stringify({ type: 'ping' }));
    expect(await sockets[3].next((f) => f.type === 'pong')).toEqual({ type: 'pong' });
    sockets[3].close();
    void bystander;
  });
});
