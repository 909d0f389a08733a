import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PresenceFrame, ServerFrame } from '../../src/notifications/frames.js';
import { presenceKeyBase } from '../../src/presence/redis-presence-store.js';
import type { TestApp } from '../support/app.js';
import { newDirect, newGroup, newUser, type TestUser } from '../support/factories.js';
import { startRedis, startService, type ServiceProcess } from '../support/processes.js';
import { TestSocket } from '../support/ws-client.js';

/**
 * Typing and presence across instances: built services as processes of their own, sharing one
 * PostgreSQL and one Redis (docs/deployment.md, "Several instances and Redis"). The grace and
 * the heartbeat are shortened so that the tests can watch them pass; an instance silent for
 * three heartbeats (1.5 s here) is taken for dead.
 */
const JWT_SECRET = 'live-signals-secret-long-enough-000000';
const sharedRedis = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';
const GRACE_MS = 1000;
const HEARTBEAT_MS = 500;
const EXPIRY_MS = 3 * HEARTBEAT_MS;

function envFor(redisUrl: string, prefix: string): Record<string, string> {
  return {
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: redisUrl,
    REDIS_CHANNEL_PREFIX: prefix,
    JWT_SECRET,
    PRESENCE_OFFLINE_GRACE_MS: String(GRACE_MS),
    PRESENCE_HEARTBEAT_MS: String(HEARTBEAT_MS),
  };
}

const asApp = (service: ServiceProcess) => service as unknown as TestApp;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const typingFrame = (conversationId: string) => JSON.stringify({ type: 'typing', conversationId });
const typingIn = (conversationId: string, userId?: string) => (frame: ServerFrame) =>
  frame.type === 'typing' && frame.conversationId === conversationId && (userId === undefined || frame.userId === userId);
const presenceOf = (userId: string, status?: string) => (frame: ServerFrame) =>
  frame.type === 'presence' && frame.userId === userId && (status === undefined || frame.status === status);

const sockets: TestSocket[] = [];
async function connect(service: ServiceProcess, user: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(service.wsUrl, { token: user.token });
  sockets.push(socket);
  return socket;
}

async function disconnect(socket: TestSocket): Promise<void> {
  socket.close();
  await socket.waitForClose();
}

async function presence(service: ServiceProcess, viewer: TestUser, ...users: TestUser[]) {
  const response = await service.http().get('/api/v1/presence').query({ userIds: users.map((user) => user.id).join(',') }).set(viewer.auth);
  expect(response.status).toBe(200);
  return response.body.items as { userId: string; status: string; lastSeenAt: string | null }[];
}

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

describe('two instances sharing PostgreSQL and Redis', () => {
  let one: ServiceProcess;
  let two: ServiceProcess;
  let prefix: string;

  beforeAll(async () => {
    prefix = `t${randomBytes(4).toString('hex')}`;
    [one, two] = await Promise.all([startService(envFor(sharedRedis, prefix)), startService(envFor(sharedRedis, prefix))]);
  });

  afterAll(async () => {
    await Promise.all([one?.kill(), two?.kill()]);
  });

  it('passes typing across instances to every member’s sockets, once each, and to no outsider', async () => {
    const [alice, bob, carol, outsider] = [await newUser(asApp(one)), await newUser(asApp(one)), await newUser(asApp(one)), await newUser(asApp(one))];
    const groupId = await newGroup(asApp(one), alice, [bob, carol]);
    const aliceSocket = await connect(one, alice);
    const members = [await connect(two, bob), await connect(one, carol), await connect(two, carol)];
    const outsiders = [await connect(one, outsider), await connect(two, outsider)];

    aliceSocket.send(typingFrame(groupId));
    for (const socket of members) await socket.next(typingIn(groupId, alice.id));
    await sleep(300);
    for (const socket of members) expect(await socket.collect(typingIn(groupId), 0)).toEqual([]);
    for (const socket of [aliceSocket, ...outsiders]) expect(await socket.collect((frame) => frame.type === 'typing', 0)).toEqual([]);

    // The HTTP route, on the other instance, likewise.
    expect((await two.http().post(`/api/v1/conversations/${groupId}/typing`).set(bob.auth)).status).toBe(204);
    await aliceSocket.next(typingIn(groupId, bob.id));
    expect((await two.http().post(`/api/v1/conversations/${groupId}/typing`).set(outsider.auth)).status).toBe(404);
  });

  it('passes on one signal per user and conversation in 2 s, even from sockets on both instances', async () => {
    const [alice, bob] = [await newUser(asApp(one)), await newUser(asApp(one))];
    const directId = await newDirect(asApp(one), alice, bob);
    const [onOne, onTwo] = [await connect(one, alice), await connect(two, alice)];
    const bobSocket = await connect(two, bob);

    // Under WS_MAX_FRAMES_PER_SECOND on each socket: a burst of keystrokes on two devices.
    for (let i = 0; i < 10; i++) {
      onOne.send(typingFrame(directId));
      onTwo.send(typingFrame(directId));
    }
    await bobSocket.next(typingIn(directId, alice.id));
    expect(await bobSocket.collect(typingIn(directId), 500)).toEqual([]);
    await sleep(2000);
    onTwo.send(typingFrame(directId));
    await bobSocket.next(typingIn(directId, alice.id));
    // Past the frame limit a socket is closed, as for any frame.
    for (let i = 0; i <= 20; i++) onOne.send(typingFrame(directId));
    expect(await onOne.waitForClose()).toBe(1008);
  });

  it('stops a member removed on one instance getting and sending typing on the other at once', async () => {
    const [owner, member, joiner] = [await newUser(asApp(one)), await newUser(asApp(one)), await newUser(asApp(one))];
    const groupId = await newGroup(asApp(one), owner, [member]);
    const ownerOnTwo = await connect(two, owner);
    const memberOnTwo = await connect(two, member);
    const joinerOnTwo = await connect(two, joiner);
    // Instance two has the conversation's members cached now, from both sides.
    ownerOnTwo.send(typingFrame(groupId));
    await memberOnTwo.next(typingIn(groupId, owner.id));
    memberOnTwo.send(typingFrame(groupId));
    await ownerOnTwo.next(typingIn(groupId, member.id));
    await sleep(2000);

    expect((await one.http().delete(`/api/v1/conversations/${groupId}/members/${member.id}`).set(owner.auth)).status).toBe(204);
    expect((await one.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [joiner.id] })).status).toBe(200);
    memberOnTwo.send(typingFrame(groupId));
    ownerOnTwo.send(typingFrame(groupId));
    await joinerOnTwo.next(typingIn(groupId, owner.id));
    expect(await memberOnTwo.collect(typingIn(groupId), 300)).toEqual([]);
    expect(await ownerOnTwo.collect(typingIn(groupId, member.id), 0)).toEqual([]);
    expect((await two.http().post(`/api/v1/conversations/${groupId}/typing`).set(member.auth)).status).toBe(404);
  });

  it('counts sockets on both instances: online announced once, offline only after the last socket anywhere and the grace', async () => {
    const [alice, bob] = [await newUser(asApp(one)), await newUser(asApp(one))];
    await newDirect(asApp(one), alice, bob);
    const watchers = [await connect(one, alice), await connect(two, alice)];

    const bobOnOne = await connect(one, bob);
    for (const socket of watchers) expect(await socket.next(presenceOf(bob.id))).toMatchObject({ status: 'online' });
    const bobOnTwo = await connect(two, bob);
    await disconnect(bobOnOne);
    await sleep(GRACE_MS + 800);
    for (const socket of watchers) expect(await socket.collect(presenceOf(bob.id), 0)).toEqual([]);
    for (const service of [one, two]) expect((await presence(service, alice, bob))[0].status).toBe('online');

    const closedAt = Date.now();
    await disconnect(bobOnTwo);
    for (const socket of watchers) {
      const offline = await socket.next<PresenceFrame>(presenceOf(bob.id), 5000);
      expect(offline.status).toBe('offline');
      expect(Date.now() - closedAt).toBeGreaterThanOrEqual(GRACE_MS);
      expect(Math.abs(Date.parse(offline.lastSeenAt!) - closedAt)).toBeLessThan(1000);
    }
    await sleep(500);
    for (const socket of watchers) expect(await socket.collect(presenceOf(bob.id), 0)).toEqual([]);
    for (const service of [one, two]) expect((await presence(service, alice, bob))[0]).toMatchObject({ status: 'offline', lastSeenAt: expect.any(String) });
  });

  it('shows no flicker when a user reconnects to the other instance within the grace', async () => {
    const [alice, bob] = [await newUser(asApp(one)), await newUser(asApp(one))];
    await newDirect(asApp(one), alice, bob);
    const watcher = await connect(two, alice);
    await disconnect(await connect(one, bob));
    await connect(two, bob);
    await sleep(GRACE_MS + 800);
    // The first connection's online, and nothing after it.
    expect((await watcher.collect(presenceOf(bob.id), 0)).map((frame) => (frame as PresenceFrame).status)).toEqual(['online']);
  });

  it('takes a SIGKILLed instance’s users offline within the expiry and the grace, and no one else', async () => {
    const doomed = await startService(envFor(sharedRedis, prefix));
    try {
      const [alice, bob, carol, dave] = [await newUser(asApp(one)), await newUser(asApp(one)), await newUser(asApp(one)), await newUser(asApp(one))];
      await newGroup(asApp(one), alice, [bob, carol, dave]);
      const watcher = await connect(two, alice);
      await connect(doomed, bob);
      await connect(doomed, carol);
      await connect(one, carol);
      await connect(two, dave);
      for (const user of [bob, carol, dave]) await watcher.next(presenceOf(user.id, 'online'));

      const killedAt = Date.now();
      await doomed.kill('SIGKILL');
      const offline = await watcher.next<PresenceFrame>(presenceOf(bob.id, 'offline'), EXPIRY_MS + GRACE_MS + 5000);
      expect(Date.now() - killedAt).toBeLessThan(EXPIRY_MS + GRACE_MS + 3000);
      expect(Date.parse(offline.lastSeenAt!)).toBeLessThanOrEqual(killedAt + 100);
      await sleep(GRACE_MS);
      expect(await watcher.collect((frame) => frame.type === 'presence', 0)).toEqual([]);
      expect((await presence(one, alice, bob, carol, dave)).map((item) => item.status)).toEqual(['offline', 'online', 'online']);
    } finally {
      await doomed.kill('SIGKILL');
    }
  });

  it('takes a stopped instance’s users into their grace, so that those who reconnect elsewhere are never seen go', async () => {
    // A longer grace on the instance that stops: it is the one that puts its users into it.
    const leaving = await startService({ ...envFor(sharedRedis, prefix), PRESENCE_OFFLINE_GRACE_MS: '5000' });
    try {
      const [alice, bob, carol] = [await newUser(asApp(one)), await newUser(asApp(one)), await newUser(asApp(one))];
      await newGroup(asApp(one), alice, [bob, carol]);
      const watcher = await connect(one, alice);
      await connect(leaving, bob);
      await connect(leaving, carol);
      for (const user of [bob, carol]) await watcher.next(presenceOf(user.id, 'online'));

      // Carol's client reconnects to another instance as this one shuts down; Bob's does not.
      const stopped = leaving.kill('SIGTERM');
      await connect(two, carol);
      await stopped;
      const offline = await watcher.next<PresenceFrame>(presenceOf(bob.id), 5000 + 5000);
      expect(offline.status).toBe('offline');
      await sleep(1000);
      expect(await watcher.collect(presenceOf(carol.id), 0)).toEqual([]);
      expect((await presence(one, alice, bob, carol)).map((item) => item.status)).toEqual(['offline', 'online']);
    } finally {
      await leaving.kill('SIGKILL');
    }
  });

  it('keeps its presence keys under REDIS_CHANNEL_PREFIX, and a user held nowhere out of them', async () => {
    const redis = new Redis(sharedRedis);
    try {
      // How many instances hold a socket of the user, once the instances have told Redis.
      const holders = async (userId: string, expected: number) => {
        for (let tries = 0; tries < 50 && Number(await redis.hget(`${presenceKeyBase(prefix)}:online`, userId)) !== expected; tries++) await sleep(20);
        return Number(await redis.hget(`${presenceKeyBase(prefix)}:online`, userId));
      };
      const user = await newUser(asApp(one));
      const socket = await connect(one, user);
      expect(await holders(user.id, 1)).toBe(1);
      await connect(two, user);
      await connect(two, user);
      expect(await holders(user.id, 2)).toBe(2);
      expect(await redis.zcard(`${presenceKeyBase(prefix)}:instances`)).toBe(2);
      await disconnect(socket);
      for (const other of sockets.splice(0)) await disconnect(other);
      await sleep(GRACE_MS + 800);
      expect(await redis.hget(`${presenceKeyBase(prefix)}:online`, user.id)).toBeNull();
      expect(await redis.zscore(`${presenceKeyBase(prefix)}:grace`, user.id)).toBeNull();
      // Typing limits expire by themselves.
      expect(await redis.keys(`${prefix}:typing:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});

describe('Redis restarted', () => {
  it('drops typing between instances while it is down, and recomputes and re-announces presence when it is back', async () => {
    const redis = await startRedis();
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const [one, two] = await Promise.all([startService(envFor(redis.url, prefix)), startService(envFor(redis.url, prefix))]);
    let restarted: Awaited<ReturnType<typeof startRedis>> | undefined;
    try {
      const [alice, bob, carol, dave, erin] = [
        await newUser(asApp(one)),
        await newUser(asApp(one)),
        await newUser(asApp(one)),
        await newUser(asApp(one)),
        await newUser(asApp(one)),
      ];
      const groupId = await newGroup(asApp(one), alice, [bob, carol, dave, erin]);
      const aliceSocket = await connect(one, alice);
      const bobSocket = await connect(two, bob);
      const carolSocket = await connect(one, carol);
      const erinSocket = await connect(two, erin);
      for (const user of [bob, carol, erin]) await aliceSocket.next(presenceOf(user.id, 'online'));

      await redis.stop();
      aliceSocket.send(typingFrame(groupId));
      // Members on the same instance still see it; across instances it is dropped.
      await carolSocket.next(typingIn(groupId, alice.id));
      expect(await bobSocket.collect(typingIn(groupId), 500)).toEqual([]);
      // Meanwhile Dave comes and Erin goes, on the instance Alice is not on.
      await connect(two, dave);
      await disconnect(erinSocket);

      restarted = await startRedis(redis.port);
      // The Redis that came back knows nothing: each instance sets its sockets again once the
      // fan-out is back, and who came online is announced, Dave (new) and Bob (still there)
      // among them. Clients are told to resync, and read presence again.
      await aliceSocket.next((frame) => frame.type === 'resync', 20_000);
      for (const user of [dave, bob]) await aliceSocket.next(presenceOf(user.id, 'online'), 20_000);
      // Each instance's counts are set again within a few seconds of the other's.
      const statuses = async () => (await presence(one, alice, bob, carol, dave, erin)).map((item) => item.status).join(' ');
      for (let tries = 0; tries < 40 && (await statuses()) !== 'online online online offline'; tries++) await sleep(250);
      expect(await statuses()).toBe('online online online offline');

      // And typing crosses again (the limit of the dropped signal has passed by now).
      await sleep(500);
      aliceSocket.send(typingFrame(groupId));
      await bobSocket.next(typingIn(groupId, alice.id), 5000);
      // Presence keeps working: Bob goes, and is announced after the grace.
      await disconnect(bobSocket);
      await aliceSocket.next(presenceOf(bob.id, 'offline'), GRACE_MS + 5000);
    } finally {
      await Promise.all([one.kill(), two.kill()]);
      await (restarted ?? redis).stop();
    }
  }, 60_000);
});
