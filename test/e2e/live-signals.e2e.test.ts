import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceFrame, ServerFrame, TypingFrame } from '../../src/notifications/frames.js';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newGroup, newUser, send, type TestUser } from '../support/factories.js';
import { TestSocket } from '../support/ws-client.js';

/**
 * Typing and presence on one instance (no Redis: both kept in process), section D of
 * API-next.md. The grace before `offline` is shortened so that the tests can watch it pass.
 */
const GRACE_MS = 600;
let app: TestApp;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  app = await startApp({ PRESENCE_OFFLINE_GRACE_MS: String(GRACE_MS) });
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

afterAll(async () => {
  await app.close();
});

async function connect(user: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(app.wsUrl, { token: user.token });
  sockets.push(socket);
  return socket;
}

async function disconnect(socket: TestSocket): Promise<void> {
  socket.close();
  await socket.waitForClose();
}

const typingIn = (conversationId: string, userId?: string) => (frame: ServerFrame) =>
  frame.type === 'typing' && frame.conversationId === conversationId && (userId === undefined || frame.userId === userId);
const presenceOf = (userId: string, status?: string) => (frame: ServerFrame) =>
  frame.type === 'presence' && frame.userId === userId && (status === undefined || frame.status === status);
const typingFrame = (conversationId: string) => JSON.stringify({ type: 'typing', conversationId });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function presence(viewer: TestUser, ...users: TestUser[]) {
  return app.http().get('/api/v1/presence').query({ userIds: users.map((user) => user.id).join(',') }).set(viewer.auth);
}

describe('typing', () => {
  it('passes a typing frame on to the other members only, with who is typing', async () => {
    const [alice, bob, carol, outsider] = [await newUser(app), await newUser(app), await newUser(app), await newUser(app)];
    const groupId = await newGroup(app, alice, [bob, carol]);
    const [aliceSocket, bobSocket, carolSocket, outsiderSocket] = await Promise.all([alice, bob, carol, outsider].map(connect));

    aliceSocket.send(typingFrame(groupId));
    for (const socket of [bobSocket, carolSocket]) {
      expect(await socket.next<TypingFrame>(typingIn(groupId))).toEqual({ type: 'typing', conversationId: groupId, userId: alice.id });
    }
    expect(await aliceSocket.collect(typingIn(groupId), 200)).toEqual([]);
    expect(await outsiderSocket.collect((frame) => frame.type === 'typing', 0)).toEqual([]);
  });

  it('takes POST /conversations/:id/typing too: 204, and 404 for a conversation the caller is not in', async () => {
    const [alice, bob, outsider] = [await newUser(app), await newUser(app), await newUser(app)];
    const directId = await newDirect(app, alice, bob);
    const bobSocket = await connect(bob);

    const posted = await app.http().post(`/api/v1/conversations/${directId}/typing`).set(alice.auth);
    expect(posted.status).toBe(204);
    expect(await bobSocket.next(typingIn(directId, alice.id))).toBeDefined();
    // Within the 2 s: taken, not passed on.
    expect((await app.http().post(`/api/v1/conversations/${directId}/typing`).set(alice.auth)).status).toBe(204);
    expect(await bobSocket.collect(typingIn(directId), 300)).toEqual([]);

    const refused = await app.http().post(`/api/v1/conversations/${directId}/typing`).set(outsider.auth);
    const missing = await app.http().post('/api/v1/conversations/999999999/typing').set(outsider.auth);
    expect(refused.status).toBe(404);
    expect(refused.body).toEqual(missing.body);
    expect(await bobSocket.collect(typingIn(directId), 200)).toEqual([]);
  });

  it('ignores a typing frame for a conversation the user is not in, or one that is malformed', async () => {
    const [alice, bob, outsider] = [await newUser(app), await newUser(app), await newUser(app)];
    const directId = await newDirect(app, alice, bob);
    const [aliceSocket, bobSocket, outsiderSocket] = await Promise.all([alice, bob, outsider].map(connect));

    for (const frame of [typingFrame(directId), typingFrame('999999999'), '{"type":"typing"}', '{"type":"typing","conversationId":5}']) {
      outsiderSocket.send(frame);
    }
    expect(await aliceSocket.collect((frame) => frame.type === 'typing', 300)).toEqual([]);
    expect(await bobSocket.collect((frame) => frame.type === 'typing', 0)).toEqual([]);
    // The outsider's socket is still open and answered.
    outsiderSocket.send(JSON.stringify({ type: 'ping' }));
    await outsiderSocket.next((frame) => frame.type === 'pong');
  });

  it('passes on at most one per user and conversation every 2 s, each conversation on its own', async () => {
    const [alice, bob] = [await newUser(app), await newUser(app)];
    const directId = await newDirect(app, alice, bob);
    const groupId = await newGroup(app, alice, [bob]);
    const [aliceSocket, bobSocket] = await Promise.all([alice, bob].map(connect));

    for (let i = 0; i < 5; i++) aliceSocket.send(typingFrame(directId));
    aliceSocket.send(typingFrame(groupId));
    await sleep(400);
    expect((await bobSocket.collect(typingIn(directId), 0)).length).toBe(1);
    expect((await bobSocket.collect(typingIn(groupId), 0)).length).toBe(1);
    // Bob's own signals are counted apart from Alice's.
    bobSocket.send(typingFrame(directId));
    await aliceSocket.next(typingIn(directId, bob.id));

    await sleep(2000);
    aliceSocket.send(typingFrame(directId));
    await bobSocket.next(typingIn(directId, alice.id));
  });

  it('stops a removed member getting and sending typing at once, and lets an added one at once', async () => {
    const [owner, member, joiner] = [await newUser(app), await newUser(app), await newUser(app)];
    const groupId = await newGroup(app, owner, [member]);
    const [ownerSocket, memberSocket, joinerSocket] = await Promise.all([owner, member, joiner].map(connect));
    // The conversation's members are cached now.
    ownerSocket.send(typingFrame(groupId));
    await memberSocket.next(typingIn(groupId, owner.id));

    expect((await app.http().delete(`/api/v1/conversations/${groupId}/members/${member.id}`).set(owner.auth)).status).toBe(204);
    expect((await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [joiner.id] })).status).toBe(200);
    memberSocket.send(typingFrame(groupId));
    await sleep(2000);
    ownerSocket.send(typingFrame(groupId));
    await joinerSocket.next(typingIn(groupId, owner.id));
    expect(await memberSocket.collect(typingIn(groupId), 200)).toEqual([]);
    expect(await ownerSocket.collect(typingIn(groupId, member.id), 0)).toEqual([]);
    expect((await app.http().post(`/api/v1/conversations/${groupId}/typing`).set(member.auth)).status).toBe(404);
    joinerSocket.send(typingFrame(groupId));
    await ownerSocket.next(typingIn(groupId, joiner.id));
  });

  it('never stores a signal: history and the changes feed are as they were', async () => {
    const [alice, bob] = [await newUser(app), await newUser(app)];
    const directId = await newDirect(app, alice, bob);
    await send(app, alice, directId, 'hello');
    const before = await app.http().get(`/api/v1/conversations/${directId}`).set(alice.auth);
    expect((await app.http().post(`/api/v1/conversations/${directId}/typing`).set(alice.auth)).status).toBe(204);
    const after = await app.http().get(`/api/v1/conversations/${directId}`).set(alice.auth);
    expect(after.body).toEqual(before.body);
  });

  it('closes a socket flooding typing frames past WS_MAX_FRAMES_PER_SECOND (1008), having passed on one', async () => {
    const [alice, bob] = [await newUser(app), await newUser(app)];
    const directId = await newDirect(app, alice, bob);
    const [aliceSocket, bobSocket] = await Promise.all([alice, bob].map(connect));
    for (let i = 0; i <= app.config.wsMaxFramesPerSecond; i++) aliceSocket.send(typingFrame(directId));
    expect(await aliceSocket.waitForClose()).toBe(1008);
    expect((await bobSocket.collect(typingIn(directId), 300)).length).toBe(1);
  });
});

describe('presence', () => {
  it('announces online and, after the grace, offline to those who share a conversation, and to no one else', async () => {
    const [alice, bob, outsider] = [await newUser(app), await newUser(app), await newUser(app)];
    await newDirect(app, alice, bob);
    const [aliceSocket, outsiderSocket] = await Promise.all([alice, outsider].map(connect));

    const bobSocket = await connect(bob);
    const online = await aliceSocket.next<PresenceFrame>(presenceOf(bob.id));
    expect(online).toEqual({ type: 'presence', userId: bob.id, status: 'online', lastSeenAt: expect.any(String) });

    const closedAt = Date.now();
    await disconnect(bobSocket);
    expect(await aliceSocket.collect(presenceOf(bob.id), GRACE_MS / 2)).toEqual([]);
    const offline = await aliceSocket.next<PresenceFrame>(presenceOf(bob.id), 5000);
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(GRACE_MS);
    expect(offline.status).toBe('offline');
    expect(Math.abs(Date.parse(offline.lastSeenAt!) - closedAt)).toBeLessThan(1000);
    expect(await outsiderSocket.collect((frame) => frame.type === 'presence', 0)).toEqual([]);
    // Not told of its own going (Alice's coming online may reach it, if announced after it connected).
    expect(await bobSocket.collect(presenceOf(bob.id), 0)).toEqual([]);
  });

  it('shows no flicker for a reload within the grace, and counts every socket of a user', async () => {
    const [alice, bob] = [await newUser(app), await newUser(app)];
    await newDirect(app, alice, bob);
    const aliceSocket = await connect(alice);
    const [tab1, tab2] = [await connect(bob), await connect(bob)];
    await aliceSocket.next(presenceOf(bob.id, 'online'));

    await disconnect(tab1);
    await disconnect(tab2);
    await connect(bob);
    expect(await aliceSocket.collect(presenceOf(bob.id), GRACE_MS * 2)).toEqual([]);
    expect((await presence(alice, bob)).body.items[0].status).toBe('online');
  });

  it('answers GET /presence for users who share a conversation with the caller, and leaves out the others', async () => {
    const [alice, bob, carol, outsider] = [await newUser(app), await newUser(app), await newUser(app), await newUser(app)];
    await newGroup(app, alice, [bob, carol]);
    await connect(bob);
    const carolSocket = await connect(carol);
    await disconnect(carolSocket);
    await sleep(GRACE_MS + 1200);

    const response = await presence(alice, bob, outsider, carol, bob);
    expect(response.status).toBe(200);
    expect(response.body.items).toEqual([
      { userId: bob.id, status: 'online', lastSeenAt: expect.any(String) },
      { userId: carol.id, status: 'offline', lastSeenAt: expect.any(String) },
    ]);
    // Never seen online: offline, and no time to give.
    const quiet = await newUser(app);
    await newDirect(app, alice, quiet);
    expect((await presence(alice, quiet)).body.items).toEqual([{ userId: quiet.id, status: 'offline', lastSeenAt: null }]);
    expect((await presence(outsider, alice, bob)).body.items).toEqual([]);
  });

  it('keeps a user that does not share its presence offline to others, everywhere, and tells them when it changes', async () => {
    const [alice, bob] = [await newUser(app), await newUser(app)];
    await newDirect(app, alice, bob);
    const aliceSocket = await connect(alice);
    const bobSocket = await connect(bob);
    await aliceSocket.next(presenceOf(bob.id, 'online'));

    expect((await app.http().patch('/api/v1/users/me').set(bob.auth).send({ sharePresence: false })).status).toBe(200);
    expect(await aliceSocket.next(presenceOf(bob.id))).toEqual({ type: 'presence', userId: bob.id, status: 'offline', lastSeenAt: null });
    expect((await presence(alice, bob)).body.items).toEqual([{ userId: bob.id, status: 'offline', lastSeenAt: null }]);
    // To itself it is what it is.
    expect((await presence(bob, bob)).body.items).toEqual([{ userId: bob.id, status: 'online', lastSeenAt: expect.any(String) }]);

    // Its comings and goings are not announced.
    await disconnect(bobSocket);
    const again = await connect(bob);
    await disconnect(again);
    await sleep(GRACE_MS + 1200);
    expect(await aliceSocket.collect(presenceOf(bob.id), 0)).toEqual([]);

    await connect(bob);
    expect((await app.http().patch('/api/v1/users/me').set(bob.auth).send({ sharePresence: true })).status).toBe(200);
    expect(await aliceSocket.next(presenceOf(bob.id))).toMatchObject({ status: 'online', lastSeenAt: expect.any(String) });
    expect((await presence(alice, bob)).body.items[0].status).toBe('online');
  });

  it('refuses a malformed userIds with 400', async () => {
    const alice = await newUser(app);
    const tooMany = Array.from({ length: 101 }, (_, i) => String(i + 1)).join(',');
    for (const query of ['', '?userIds=', '?userIds=abc', '?userIds=1,,2', `?userIds=${tooMany}`, '?userIds=1&userIds=2', '?userIds=1&x=2']) {
      const response = await app.http().get(`/api/v1/presence${query}`).set(alice.auth);
      expect(response.status, query).toBe(400);
      expect(Object.keys(response.body).sort()).toEqual(['error', 'message', 'statusCode']);
    }
    const hundred = Array.from({ length: 100 }, (_, i) => String(i + 1)).join(',');
    expect((await app.http().get(`/api/v1/presence?userIds=${hundred}`).set(alice.auth)).status).toBe(200);
  });
});
