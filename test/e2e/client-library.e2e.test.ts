import { createECDH, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { ServerFrame as ServerSideFrame } from '../../src/notifications/frames.js';
import { ParleyClient, ParleyError, MemoryStore, type ConnectionStatus, type Message, type ServerFrame } from '@parley/client/node';
import { startApp, type TestApp } from '../support/app.js';
import { Recorder } from '../support/client-recorder.js';
import { newDirect, newGroup, newUser, PASSWORD, send, testUser, uniqueName, type TestUser } from '../support/factories.js';
import { freePort, hasRedisServer, startRedis, startService, type ServiceProcess } from '../support/processes.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

/**
 * Issue 33: `@parley/client` (packages/client) against the real server, over real sockets.
 * Its promise: typed calls; each message emitted once and, per conversation, in seq order,
 * whatever happens to the connection (cut mid-burst, the server killed, Redis restarted, the
 * token expiring); and sends retried with one clientMessageId, so stored once.
 */

// Every frame the server sends is one the library's hand-written types know (npm run check).
export const serverFramesAreLibraryFrames = (frame: ServerSideFrame): ServerFrame => frame;

const JWT_SECRET = 'client-library-secret-long-enough-000000';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const clients: ParleyClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

interface Target {
  url: string;
  http: TestApp['http'];
}

/** A library client holding `user`'s session, reconnecting quickly (tests need not wait 30 s). */
function clientFor(target: Target, user: TestUser, options: Partial<ConstructorParameters<typeof ParleyClient>[0]> = {}): ParleyClient {
  const client = new ParleyClient({
    baseUrl: target.url,
    session: { accessToken: user.token, refreshToken: user.refreshToken, user: { id: user.id } },
    reconnect: { firstDelayMs: 100, maxDelayMs: 1000 },
    ...options,
  });
  clients.push(client);
  return client;
}

/** Every connection state a client goes through from now on. */
function watchStates(client: ParleyClient): ConnectionStatus['state'][] {
  const states: ConnectionStatus['state'][] = [];
  client.on('connection', (status) => states.push(status.state));
  return states;
}

/** The server's view of a conversation: every message, newest version, by seq. */
async function truth(target: Target, reader: TestUser, conversationId: string): Promise<Message[]> {
  const items: Message[] = [];
  let since = 0;
  for (;;) {
    const page = await target.http().get(`/api/v1/conversations/${conversationId}/changes`).query({ since, limit: 500 }).set(reader.auth);
    expect(page.status).toBe(200);
    items.push(...page.body.items);
    since = page.body.lastChangeSeq;
    if (!page.body.hasMore) break;
  }
  return items.sort((a, b) => a.seq - b.seq);
}

/** Waits until the client holds the server's view of each conversation, then checks the promise. */
async function expectCaughtUp(target: Target, client: ParleyClient, recorder: Recorder, reader: TestUser, conversationIds: string[]) {
  for (const conversationId of conversationIds) {
    const expected = await truth(target, reader, conversationId);
    await expect.poll(() => recorder.messages(conversationId), { timeout: 20_000 }).toEqual(expected);
    recorder.expectExactlyOnceInOrder(conversationId);
  }
  await client.idle();
}

describe('@parley/client', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('runs the whole loop: typed calls, live events once and in order, the outbox, typed errors', async () => {
    const alice = await ParleyClient.register({ baseUrl: app.url, username: uniqueName('alice'), password: PASSWORD });
    const bob = await ParleyClient.register({ baseUrl: app.url, username: uniqueName('bob'), password: PASSWORD, displayName: 'Bob' });
    clients.push(alice, bob);
    const bobMe = await bob.api.me();
    expect(bobMe.displayName).toBe('Bob');
    expect((await alice.api.searchUsers(bobMe.username)).items.map((user) => user.id)).toEqual([bobMe.id]);
    const [aliceSeen, bobSeen] = [new Recorder(alice), new Recorder(bob)];
    const announced: string[] = [];
    bob.on('conversation', ({ conversationId }) => announced.push(conversationId));
    await Promise.all([alice.connect(), bob.connect()]);
    expect(alice.connection.state).toBe('online');

    const conversation = await alice.api.openDirect(bobMe.id);
    await expect.poll(() => announced).toContain(conversation.id);

    // send() answers at once with the pending message; the outbox stores it.
    const pending = alice.send(conversation.id, 'hello bob');
    expect(pending.status).toBe('sending');
    expect(alice.outbox.pending(conversation.id)).toEqual([pending]);
    const stored = await pending.sent;
    expect(stored).toMatchObject({ seq: 1, body: 'hello bob', clientMessageId: pending.clientMessageId, senderId: alice.userId });
    expect(pending.status).toBe('sent');
    expect(alice.outbox.pending()).toEqual([]);
    await expect.poll(() => bobSeen.bodies(conversation.id)).toEqual(['hello bob']);

    await bob.send(conversation.id, 'hi alice').sent;
    await expect.poll(() => aliceSeen.bodies(conversation.id)).toEqual(['hello bob', 'hi alice']);

    // An edit and a delete reach the other side as updates of a message it has.
    await alice.api.editMessage(stored.id, 'hello, bob');
    await expect.poll(() => bobSeen.messages(conversation.id)[0]?.body).toBe('hello, bob');
    await alice.api.deleteMessage(stored.id);
    await expect.poll(() => bobSeen.messages(conversation.id)[0]?.deletedAt).not.toBeNull();
    expect(bobSeen.updates.map((m) => m.body)).toEqual(['hello, bob', null]);

    // The caller's own read marker, told to its other tabs (seq 2 is Bob's own: it moved nothing).
    const reads: unknown[] = [];
    bob.on('read', (read) => reads.push(read));
    await bob.api.markRead(conversation.id, 2);
    await expect.poll(() => reads).toEqual([{ conversationId: conversation.id, userId: bobMe.id, seq: 2, own: true }]);

    for (const [client, seen] of [
      [alice, aliceSeen],
      [bob, bobSeen],
    ] as const) {
      await client.idle();
      seen.expectExactlyOnceInOrder(conversation.id);
      expect(seen.messages(conversation.id)).toEqual(await truth(app, await asTestUser(client), conversation.id));
    }

    // One error class, in the contract's shape.
    const missing = await alice.api.conversation('999999999').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(ParleyError);
    expect(missing).toMatchObject({ statusCode: 404, error: 'Not Found' });
    const invalid = (await alice.api.sendMessage({ conversationId: conversation.id, body: ' ' }).catch((error: unknown) => error)) as ParleyError;
    expect(invalid).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(invalid.messages.length).toBeGreaterThan(0);
    expect(invalid.message).toBe(invalid.messages.join('; '));

    // A send the server refuses for its content is not retried: it waits for retry or discard.
    const refused = alice.send(conversation.id, '   ');
    await expect.poll(() => refused.status).toBe('failed');
    expect(refused.error).toMatchObject({ statusCode: 400 });
    await sleep(1500);
    expect(refused.attempts).toBe(1);
    alice.outbox.discard(refused.clientMessageId);
    await expect(refused.sent).rejects.toThrow('Discarded');
    expect(alice.outbox.pending()).toEqual([]);
  });

  it('gives the Retry-After of a 429 as retryAfter, and the outbox waits that long before sending again', async () => {
    const limited = await startApp({ RATE_LIMIT_SEND_PER_USER: '2/3' });
    try {
      const [alice, bob] = [await newUser(limited, 'alice'), await newUser(limited, 'bob')];
      const conversationId = await newDirect(limited, alice, bob);
      const client = clientFor(limited, alice);
      await client.api.sendMessage({ conversationId, body: 'one' });
      await client.api.sendMessage({ conversationId, body: 'two' });
      const tooMany = (await client.api.sendMessage({ conversationId, body: 'three' }).catch((error: unknown) => error)) as ParleyError;
      expect(tooMany).toBeInstanceOf(ParleyError);
      expect(tooMany.statusCode).toBe(429);
      expect(tooMany.retryAfter).toBeGreaterThan(0);

      const pending = client.send(conversationId, 'three, patiently');
      await expect.poll(() => pending.status).toBe('waiting');
      expect(pending.error?.statusCode).toBe(429);
      expect(pending.retryAt! - Date.now()).toBeGreaterThan(0);
      expect((await pending.sent).body).toBe('three, patiently');
      expect(pending.attempts).toBe(2);
    } finally {
      await limited.close();
    }
  });

  it('fans a group out to every member, each message once and in order, with three members sending at once', async () => {
    const owner = await newUser(app, 'owner');
    const members = [await newUser(app, 'm1'), await newUser(app, 'm2'), await newUser(app, 'm3')];
    const everyone = [owner, ...members];
    const connected = everyone.map((user) => clientFor(app, user));
    const seen = connected.map((client) => new Recorder(client));
    await Promise.all(connected.map((client) => client.connect()));

    const group = await connected[0].api.createGroup('fan-out', members.map((m) => m.id));
    const perSender = 15;
    const sends = connected.slice(0, 3).flatMap((client, s) => Array.from({ length: perSender }, (_, i) => client.send(group.id, `s${s}-${i}`)));
    const stored = await Promise.all(sends.map((pending) => pending.sent));
    expect(new Set(stored.map((m) => m.seq)).size).toBe(3 * perSender);

    for (const [i, client] of connected.entries()) await expectCaughtUp(app, client, seen[i], everyone[i], [group.id]);
    // The members' sends interleave on the server; every member saw the one order it gave them.
    const sequence = seen[0].bodies(group.id);
    expect(sequence).toHaveLength(3 * perSender);
    for (const other of seen.slice(1)) expect(other.bodies(group.id)).toEqual(sequence);
  });

  it('catches up after its socket is cut in the middle of a burst: nothing lost, nothing twice, order kept', { timeout: 90_000 }, async () => {
    const proxy = await startTcpProxy(app.url);
    try {
      const viaProxy = { url: proxy.url.replace(/\/$/, ''), http: app.http };
      const [alice, bob, carol] = [await newUser(app, 'alice'), await newUser(app, 'bob'), await newUser(app, 'carol')];
      const direct = await newDirect(app, bob, alice);
      const group = await newGroup(app, bob, [alice, carol]);
      const seeds = [await send(app, bob, direct, 'seed-d'), await send(app, carol, group, 'seed-g')];
      const client = clientFor(viaProxy, alice, { backlog: 'all' });
      const seen = new Recorder(client);
      const states = watchStates(client);
      await client.connect();
      await expect.poll(() => seen.bodies(group)).toEqual(['seed-g']);

      // Three senders at once (so notifications also arrive out of seq order); the network
      // goes away a third of the way in and comes back while they are still sending.
      const total = 3 * 40;
      let sent = 0;
      let cut: Promise<void> | undefined;
      const burst = async (from: TestUser, conversationId: string, tag: string) => {
        for (let i = 0; i < 40; i++) {
          await send(app, from, conversationId, `${tag}-${i}`);
          if (++sent === total / 3) cut = outage();
        }
      };
      const outage = async () => {
        proxy.cut();
        await expect.poll(() => states.includes('offline')).toBe(true);
        // While it is away: an edit and a delete of messages it has, a message created and
        // edited, and a new conversation with messages.
        await app.http().patch(`/api/v1/messages/${seeds[0].id}`).set(bob.auth).send({ body: 'seed-d (edited)' });
        await app.http().delete(`/api/v1/messages/${seeds[1].id}`).set(carol.auth);
        const unseen = await send(app, bob, group, 'unseen');
        await app.http().patch(`/api/v1/messages/${unseen.id}`).set(bob.auth).send({ body: 'unseen (edited)' });
        const fresh = await newGroup(app, carol, [alice], 'fresh');
        for (let i = 0; i < 5; i++) await send(app, carol, fresh, `fresh-${i}`);
        while (sent < (2 * total) / 3) await sleep(10);
        proxy.restore();
      };
      await Promise.all([burst(bob, direct, 'd'), burst(bob, group, 'g'), burst(carol, group, 'c')]);
      await cut;
      await expect.poll(() => client.connection.state, { timeout: 20_000 }).toBe('online');
      await send(app, carol, group, 'after');

      const conversations = (await app.http().get('/api/v1/conversations').set(alice.auth)).body.items.map((c: { id: string }) => c.id);
      expect(conversations).toHaveLength(3);
      await expectCaughtUp(viaProxy, client, seen, alice, conversations);
      expect(seen.messages(direct)[0].body).toBe('seed-d (edited)');
      expect(seen.messages(group)[0].deletedAt).not.toBeNull();
      expect(seen.bodies(group)).toContain('unseen (edited)');
      expect(states.filter((state) => state === 'offline').length).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });

  it('sends again with the same clientMessageId when the answer is lost, and the server keeps one copy', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const conversationId = await newDirect(app, alice, bob);
    let lost = 0;
    // The request reaches the server and commits; its answer never comes back (a dropped connection).
    const losingFetch = async (request: Request) => {
      const response = await fetch(request);
      if (request.method === 'POST' && request.url.endsWith('/api/v1/messages') && lost++ === 0) throw new TypeError('fetch failed');
      return response;
    };
    const client = clientFor(app, alice, { fetch: losingFetch });
    const pending = client.send(conversationId, 'once only');
    await expect.poll(() => pending.status).not.toBe('sending');
    const stored = await pending.sent;
    expect(lost).toBe(2);
    expect(pending.attempts).toBe(2);
    const history = await truth(app, alice, conversationId);
    expect(history.map((m) => [m.id, m.body, m.clientMessageId])).toEqual([[stored.id, 'once only', pending.clientMessageId]]);
  });

  it('remembers where it stopped in its store: a restarted client emits what it missed, once', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const old = await newDirect(app, bob, alice);
    await send(app, bob, old, 'before the first start');
    const store = new MemoryStore();

    // The first start of this user with this store: existing history is not replayed.
    const first = clientFor(app, alice, { store });
    const firstSeen = new Recorder(first);
    await first.connect();
    const kept = await send(app, bob, old, 'while running');
    await expect.poll(() => firstSeen.bodies(old)).toEqual(['while running']);
    await first.idle();
    first.close();

    // While it is stopped: an edit of a message it has, new messages, a new conversation.
    await app.http().patch(`/api/v1/messages/${kept.id}`).set(bob.auth).send({ body: 'while running (edited)' });
    await send(app, bob, old, 'while stopped');
    const fresh = await newGroup(app, bob, [alice], 'made while stopped');
    await send(app, bob, fresh, 'in the new group');

    const second = clientFor(app, alice, { store });
    const secondSeen = new Recorder(second);
    await second.connect();
    await second.idle();
    expect(secondSeen.bodies(old)).toEqual(['while stopped']);
    expect(secondSeen.updates.map((m) => m.body)).toEqual(['while running (edited)']);
    expect(secondSeen.bodies(fresh)).toEqual(['in the new group']);
    expect(second.cursor(old)).toMatchObject({ lastSeq: 3 });

    // With `backlog: 'all'`, a first start replays everything.
    const everything = clientFor(app, alice, { backlog: 'all' });
    const everythingSeen = new Recorder(everything);
    await everything.connect();
    await everything.idle();
    expect(everythingSeen.bodies(old)).toEqual(['before the first start', 'while running (edited)', 'while stopped']);
  });

  describe('tokens', () => {
    let shortLived: TestApp;
    const TTL_SECONDS = 6;

    beforeAll(async () => {
      shortLived = await startApp({ ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS) });
    });

    afterAll(async () => {
      await shortLived?.close();
    });

    it('stays online across access-token expiries: refreshed in time, the socket renewed with auth frames', { timeout: 60_000 }, async () => {
      const [alice, bob] = [await newUser(shortLived, 'alice'), await newUser(shortLived, 'bob')];
      const conversationId = await newDirect(shortLived, alice, bob);
      const client = clientFor(shortLived, bob);
      const pairs: string[] = [];
      client.on('tokens', (pair) => pairs.push(pair.refreshToken));
      const seen = new Recorder(client);
      await client.connect();
      const states = watchStates(client);

      await sleep(2.5 * TTL_SECONDS * 1000);
      await send(shortLived, await logIn(shortLived, alice), conversationId, 'still there?');
      await expect.poll(() => seen.bodies(conversationId)).toEqual(['still there?']);
      expect((await client.send(conversationId, 'yes').sent).seq).toBe(2);
      // Never offline: the socket outlived its first token, renewed rather than reopened.
      expect(states).toEqual([]);
      expect(pairs.length).toBeGreaterThanOrEqual(2);
      expect(new Set(pairs).size).toBe(pairs.length);
    });

    it('starts from an access token that expired while it was away: refreshed, then connected', { timeout: 30_000 }, async () => {
      const [alice, bob] = [await newUser(shortLived, 'alice'), await newUser(shortLived, 'bob')];
      const conversationId = await newDirect(shortLived, alice, bob);
      await sleep((TTL_SECONDS + 1) * 1000);
      expect((await shortLived.http().get('/api/v1/users/me').set(bob.auth)).status).toBe(401);
      // Without an expiry the client cannot plan a refresh: the 401s make it refresh.
      const client = clientFor(shortLived, bob);
      const seen = new Recorder(client);
      expect((await client.api.me()).id).toBe(bob.id);
      await client.connect();
      await send(shortLived, await logIn(shortLived, alice), conversationId, 'welcome back');
      await expect.poll(() => seen.bodies(conversationId)).toEqual(['welcome back']);
    });

    it('ends when the session is ended elsewhere: the socket is refused, the refresh too', async () => {
      const bob = await newUser(shortLived, 'bob');
      const client = clientFor(shortLived, bob);
      const ended: ParleyError[] = [];
      client.on('ended', (error) => ended.push(error));
      await client.connect();
      const otherDevice = await shortLived.http().post('/api/v1/auth/login').send({ username: bob.username, password: PASSWORD });
      const revoked = await shortLived.http().delete(`/api/v1/auth/sessions/${bob.sessionId}`).set('Authorization', `Bearer ${otherDevice.body.accessToken}`);
      expect(revoked.status).toBe(204);
      await expect.poll(() => client.connection.state, { timeout: 10_000 }).toBe('ended');
      expect(ended).toHaveLength(1);
      expect(ended[0]).toMatchObject({ statusCode: 401 });
      // A connect after the end is refused at once.
      const refused = clientFor(shortLived, bob);
      await expect(refused.connect()).rejects.toMatchObject({ statusCode: 401 });
    });
  });

  it('calls every v1.1 route by name and emits its live events: reactions, replies, pins, search, uploads, typing, presence', async () => {
    const [aliceUser, bobUser] = await Promise.all([newUser(app, 'alice'), newUser(app, 'bob')]);
    const conversation = { id: await newDirect(app, aliceUser, bobUser) };
    const alice = clientFor(app, aliceUser);
    const bob = clientFor(app, bobUser);
    const bobSeen = new Recorder(bob);
    const signals: unknown[] = [];
    bob.on('typing', (event) => signals.push(['typing', event]));
    bob.on('presence', (event) => signals.push(['presence', event]));
    await bob.connect();
    await alice.connect();
    await expect.poll(() => signals).toContainEqual(['presence', expect.objectContaining({ userId: aliceUser.id, status: 'online' })]);
    expect(await bob.api.presence([aliceUser.id, '999999999'])).toEqual([expect.objectContaining({ userId: aliceUser.id, status: 'online' })]);

    alice.typing(conversation.id);
    await expect.poll(() => signals).toContainEqual(['typing', { conversationId: conversation.id, userId: aliceUser.id }]);

    // An upload carried by a reply, both through the outbox.
    const bytes = randomBytes(3000);
    const attachment = await alice.api.upload(new Blob([bytes], { type: 'application/octet-stream' }), { filename: 'notes.bin' });
    expect(attachment).toMatchObject({ filename: 'notes.bin', size: 3000 });
    expect((await bob.api.attachment(attachment.id).catch((error: unknown) => error)) as ParleyError).toMatchObject({ statusCode: 404 });
    const root = await alice.send(conversation.id, 'the lunch plan').sent;
    const withFile = await alice.send(conversation.id, 'see the file', { replyToId: root.id, attachmentIds: [attachment.id] }).sent;
    expect(withFile).toMatchObject({ replyToId: root.id, threadId: root.id, attachments: [expect.objectContaining({ id: attachment.id })] });
    const fetched = await fetch(new URL((await bob.api.attachment(attachment.id)).url, app.url));
    expect(Buffer.from(await fetched.arrayBuffer()).equals(bytes)).toBe(true);
    expect((await bob.api.thread(root.id)).items.map((message) => message.id)).toEqual([withFile.id]);

    // A reaction and a pin reach Bob as updates of the message he has.
    await bob.api.react(root.id, '👍');
    expect((await alice.api.reactors(root.id, '👍')).items.map((user) => user.id)).toEqual([bobUser.id]);
    await alice.api.pin(conversation.id, root.id);
    await expect
      .poll(() => bobSeen.messages(conversation.id).find((message) => message.id === root.id))
      .toMatchObject({ pinned: true, replyCount: 1, reactions: [{ emoji: '👍', count: 1, reacted: true }] });
    expect((await bob.api.pins(conversation.id)).map((message) => message.id)).toEqual([root.id]);
    await alice.api.unpin(conversation.id, root.id);
    await bob.api.unreact(root.id, '👍');
    expect(await bob.api.pins(conversation.id)).toEqual([]);

    const found = await bob.api.search({ q: 'lunch' });
    expect(found.items.map((hit) => [hit.message.id, hit.highlight])).toEqual([[root.id, 'the <mark>lunch</mark> plan']]);
    const aliceReads: unknown[] = [];
    alice.on('read', (read) => aliceReads.push(read));
    await bob.api.markRead(conversation.id, withFile.seq);
    await expect.poll(() => aliceReads).toEqual([{ conversationId: conversation.id, userId: bobUser.id, seq: withFile.seq, own: false }]);
    expect(await alice.api.receipts(conversation.id)).toContainEqual(expect.objectContaining({ userId: bobUser.id, lastReadSeq: withFile.seq }));

    // Typing without a socket goes by POST.
    bob.disconnect();
    const aliceSignals: unknown[] = [];
    alice.on('typing', (event) => aliceSignals.push(event));
    bob.typing(conversation.id);
    await expect.poll(() => aliceSignals).toEqual([{ conversationId: conversation.id, userId: bobUser.id }]);
  });

  describe('frames of v1.1 (typing, presence, read receipts)', () => {
    let server: Server;
    let url: string;
    const received: unknown[] = [];

    beforeAll(async () => {
      // A stand-in that sends each v1.1 frame and one of a newer version, with no conversations.
      server = createServer((request, response) => {
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify(request.url?.startsWith('/api/v1/conversations') ? { items: [], nextCursor: null } : {}));
      });
      const sockets = new WebSocketServer({ server, path: '/ws' });
      sockets.on('connection', (socket) => {
        socket.on('message', (data) => received.push(JSON.parse(data.toString())));
        const frames = [
          { type: 'ready', userId: '7' },
          { type: 'typing', conversationId: '3', userId: '8' },
          { type: 'presence', userId: '8', status: 'online', lastSeenAt: null },
          { type: 'conversation.read', conversationId: '3', userId: '8', seq: 4 },
          { type: 'something.newer', conversationId: '3' },
        ];
        for (const frame of frames) socket.send(JSON.stringify(frame));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });

    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('emits typing, presence and other members’ read markers, ignores unknown frames, and sends typing', async () => {
      const client = new ParleyClient({ baseUrl: url, token: 'a-bot-token' });
      clients.push(client);
      const events: unknown[] = [];
      client.on('typing', (event) => events.push(['typing', event]));
      client.on('presence', (event) => events.push(['presence', event]));
      client.on('read', (event) => events.push(['read', event]));
      await client.connect();
      await expect.poll(() => events).toEqual([
        ['typing', { conversationId: '3', userId: '8' }],
        ['presence', { userId: '8', status: 'online', lastSeenAt: null }],
        ['read', { conversationId: '3', userId: '8', seq: 4, own: false }],
      ]);
      client.typing('3');
      await expect.poll(() => received).toContainEqual({ type: 'typing', conversationId: '3' });
    });
  });

  it('calls the Web Push, conversation settings and bot routes by name', async () => {
    const [aliceUser, bobUser] = await Promise.all([newUser(app, 'alice'), newUser(app, 'bob')]);
    const conversationId = await newDirect(app, aliceUser, bobUser);
    const { api } = clientFor(app, aliceUser);

    // Web Push: the key a browser subscribes with, then a subscription as PushSubscription.toJSON() gives it.
    expect(Buffer.from(await api.vapidPublicKey(), 'base64url')).toHaveLength(65);
    const keys = { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') };
    const endpoint = `http://127.0.0.1:9/push/${randomBytes(4).toString('hex')}`;
    const subscriptionId = await api.subscribePush({ endpoint, keys, expirationTime: null });
    expect(await api.subscribePush({ endpoint, keys })).toBe(subscriptionId);
    await api.unsubscribePush(subscriptionId);
    await expect(api.unsubscribePush(subscriptionId)).rejects.toMatchObject({ statusCode: 404 });

    expect(await api.updateConversationSettings(conversationId, { muted: true })).toMatchObject({ id: conversationId, muted: true });
    expect((await api.conversation(conversationId)).muted).toBe(true);
    expect((await api.updateConversationSettings(conversationId, { muted: false })).muted).toBe(false);

    // Bots: created with a token that works, listed, token rotated (the old one stops), webhook set and removed, deactivated.
    const username = uniqueName('bot');
    const created = await api.createBot({ username, displayName: 'Helper' });
    expect(created.bot).toMatchObject({ username, displayName: 'Helper', bot: true, ownerId: aliceUser.id });
    const asBot = (token: string) => app.http().get('/api/v1/users/me').set('Authorization', `Bearer ${token}`);
    expect((await asBot(created.token)).status).toBe(200);
    expect((await api.bots()).map((bot) => bot.id)).toEqual([created.bot.id]);
    const rotated = await api.rotateBotToken(created.bot.id);
    expect([(await asBot(created.token)).status, (await asBot(rotated)).status]).toEqual([401, 200]);
    const webhook = await api.setBotWebhook(created.bot.id, 'http://127.0.0.1:9/hook');
    expect(webhook).toEqual({ url: 'http://127.0.0.1:9/hook', secret: expect.any(String) });
    await api.removeBotWebhook(created.bot.id);
    await api.deactivateBot(created.bot.id);
    expect((await asBot(rotated)).status).toBe(401);
    await expect(api.rotateBotToken(created.bot.id)).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('@parley/client and the server’s processes', () => {
  const services: ServiceProcess[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.kill('SIGKILL')));
  });

  async function spawn(env: Record<string, string>): Promise<ServiceProcess> {
    const service = await startService({ DATABASE_URL: inject('databaseUrl'), JWT_SECRET, ...env });
    services.push(service);
    return service;
  }
  const asApp = (service: ServiceProcess) => service as unknown as TestApp;

  it('rides out the server killed with SIGKILL and restarted, and a send made while it was down is stored once', { timeout: 90_000 }, async () => {
    const port = String(await freePort());
    let service = await spawn({ PORT: port });
    const [alice, bob] = [await newUser(asApp(service)), await newUser(asApp(service))];
    const conversationId = await newDirect(asApp(service), alice, bob);
    const client = clientFor(service, bob);
    const seen = new Recorder(client);
    await client.connect();
    for (const body of ['one', 'two', 'three']) await send(asApp(service), alice, conversationId, body);
    await expect.poll(() => seen.bodies(conversationId)).toEqual(['one', 'two', 'three']);

    await service.kill('SIGKILL');
    await expect.poll(() => client.connection.state).toBe('offline');
    const pending = client.send(conversationId, 'sent while the server was down');
    await expect.poll(() => pending.status).toBe('waiting');
    expect(pending.error?.isNetworkError).toBe(true);

    service = await spawn({ PORT: port });
    for (const body of ['four', 'five']) await send(asApp(service), alice, conversationId, body);
    const stored = await pending.sent;
    await expect.poll(() => client.connection.state, { timeout: 20_000 }).toBe('online');
    await expectCaughtUp(service, client, seen, bob, [conversationId]);
    expect(seen.bodies(conversationId).sort()).toEqual(['five', 'four', 'one', 'sent while the server was down', 'three', 'two']);
    const history = await truth(service, bob, conversationId);
    expect(history.filter((m) => m.clientMessageId === pending.clientMessageId).map((m) => m.id)).toEqual([stored.id]);
  });

  it.runIf(hasRedisServer)('catches up on a resync when Redis is restarted between two instances, without reconnecting', { timeout: 90_000 }, async () => {
    const redis = await startRedis();
    let restarted: Awaited<ReturnType<typeof startRedis>> | undefined;
    try {
      const prefix = `c${randomBytes(4).toString('hex')}`;
      const env = { REDIS_URL: redis.url, REDIS_CHANNEL_PREFIX: prefix };
      const [one, two] = await Promise.all([spawn(env), spawn(env)]);
      const [alice, bob] = [await newUser(asApp(one)), await newUser(asApp(two))];
      const conversationId = await newDirect(asApp(one), alice, bob);
      const client = clientFor(two, bob);
      const seen = new Recorder(client);
      let resyncs = 0;
      client.on('synced', () => resyncs++);
      await client.connect();
      const states = watchStates(client);
      await send(asApp(one), alice, conversationId, 'before');
      await expect.poll(() => seen.bodies(conversationId)).toEqual(['before']);

      await redis.stop();
      // Committed on one; two never hears of them while Redis is away.
      for (let i = 0; i < 5; i++) await send(asApp(one), alice, conversationId, `during ${i}`);
      await sleep(300);
      expect(seen.bodies(conversationId)).toEqual(['before']);
      const syncedBefore = resyncs;

      restarted = await startRedis(redis.port);
      await expect.poll(() => seen.bodies(conversationId), { timeout: 20_000 }).toEqual(['before', ...Array.from({ length: 5 }, (_, i) => `during ${i}`)]);
      expect(resyncs).toBeGreaterThan(syncedBefore);
      // The sender's own connection to Redis may come back after the receiver's: until it has,
      // its frames to other instances are dropped (docs/deployment.md), and nobody resyncs.
      await expect.poll(async () => (await one.http().get('/health/ready')).status, { timeout: 20_000 }).toBe(200);
      await send(asApp(one), alice, conversationId, 'after');
      await expectCaughtUp(two, client, seen, bob, [conversationId]);
      // The socket stayed up: a resync, not a reconnect.
      expect(states).toEqual([]);
    } finally {
      await restarted?.stop();
      await redis.stop().catch(() => undefined);
    }
  });
});

/** `user` in a new session (its first token has expired). */
async function logIn(target: Target, user: TestUser): Promise<TestUser> {
  const response = await target.http().post('/api/v1/auth/login').send({ username: user.username, password: PASSWORD });
  expect(response.status).toBe(200);
  return testUser(user.username, response.body);
}

/** The user a client is logged in as, as the factories have it (for reading the server's view). */
async function asTestUser(client: ParleyClient): Promise<TestUser> {
  const token = client.tokens.accessToken;
  const me = await client.api.me();
  return { id: me.id, username: me.username, token, auth: { Authorization: `Bearer ${token}` }, refreshToken: '', sessionId: '' };
}
