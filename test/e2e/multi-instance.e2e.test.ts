import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { TestApp } from '../support/app.js';
import { newDirect, newGroup, newUser, PASSWORD, send, testUser, type TestUser } from '../support/factories.js';
import { startRedis, startService, type ServiceProcess } from '../support/processes.js';
import { forMessage, TestSocket } from '../support/ws-client.js';

/**
 * Two instances of the built service, as separate processes on their own ports, sharing one
 * PostgreSQL and one Redis: the deployment of docs/deployment.md, "Several instances and Redis".
 */
const JWT_SECRET = 'multi-instance-secret-long-enough-00000';
const sharedRedis = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

function envFor(redisUrl: string, prefix: string): Record<string, string> {
  return { DATABASE_URL: inject('databaseUrl'), REDIS_URL: redisUrl, REDIS_CHANNEL_PREFIX: prefix, JWT_SECRET };
}

const ADMIN_PASSWORD = 'admin password 1234';

/** Two instances on one Redis; the first made with an admin from its environment only. */
async function startWithAdmin(redisUrl: string): Promise<{ one: ServiceProcess; two: ServiceProcess; adminName: string }> {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const adminName = `admin_${randomBytes(4).toString('hex')}`;
  const [one, two] = await Promise.all([
    startService({ ...envFor(redisUrl, prefix), ADMIN_USERNAME: adminName, ADMIN_PASSWORD }),
    startService(envFor(redisUrl, prefix)),
  ]);
  return { one, two, adminName };
}

/** Deactivates a user through `instance`'s admin API. */
async function deactivate(instance: ServiceProcess, adminName: string, userId: string): Promise<void> {
  const login = await instance.http().post('/api/v1/auth/login').send({ username: adminName, password: ADMIN_PASSWORD });
  expect(login.status).toBe(200);
  const response = await instance
    .http()
    .patch(`/api/v1/admin/users/${userId}`)
    .set('Authorization', `Bearer ${login.body.accessToken}`)
    .send({ active: false });
  expect(response.status).toBe(200);
}

/** Another session of `user` (another device), logged in through `instance`. */
async function logIn(instance: ServiceProcess, user: TestUser): Promise<TestUser> {
  const response = await instance.http().post('/api/v1/auth/login').send({ username: user.username, password: PASSWORD });
  expect(response.status).toBe(200);
  return testUser(user.username, response.body);
}

/** The factories take a TestApp; a process only needs `http`. */
const asApp = (service: ServiceProcess) => service as unknown as TestApp;

const sockets: TestSocket[] = [];
async function connect(service: ServiceProcess, user: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(service.wsUrl, { token: user.token });
  sockets.push(socket);
  return socket;
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

  it('delivers direct messages across instances, exactly once to every connection', async () => {
    const [alice, bob] = [await newUser(asApp(one)), await newUser(asApp(two))];
    const aliceHere = await connect(one, alice);
    const aliceThere = await connect(two, alice);
    const bobThere = await connect(two, bob);
    const bobHere = await connect(one, bob);

    const posted = await one.http().post('/api/v1/messages').set(alice.auth).send({ recipientId: bob.id, body: 'across' });
    expect(posted.status).toBe(201);
    for (const socket of [aliceHere, aliceThere, bobThere, bobHere]) {
      const frames = await socket.collect(forMessage(posted.body.id), 400);
      expect(frames).toEqual([{ type: 'message.created', id: posted.body.id, conversationId: posted.body.conversationId, seq: 1, changeSeq: 1 }]);
    }
    // Bob reads it from the other instance.
    expect((await two.http().get(`/api/v1/messages/${posted.body.id}`).set(bob.auth)).body.body).toBe('across');
  });

  it('fans group messages out to members on both instances, exactly once each', async () => {
    const owner = await newUser(asApp(one));
    const members = [await newUser(asApp(one)), await newUser(asApp(two)), await newUser(asApp(two))];
    const groupId = await newGroup(asApp(one), owner, members);
    const listeners = [
      await connect(one, owner),
      await connect(two, owner),
      await connect(one, members[0]),
      await connect(two, members[1]),
      await connect(one, members[2]),
      await connect(two, members[2]),
    ];
    const messages = [await send(asApp(two), members[1], groupId, 'one'), await send(asApp(one), owner, groupId, 'two')];
    for (const socket of listeners) {
      const frames = await socket.collect((f) => f.type === 'message.created', 400);
      expect(frames.map((f) => 'id' in f && f.id)).toEqual(messages.map((m) => m.id));
    }
  });

  it('subscribes each instance only to the users it holds sockets for', async () => {
    const redis = new Redis(sharedRedis);
    try {
      const subscribers = async (userId: string) =>
        Number(((await redis.pubsub('NUMSUB', `${prefix}:u:${userId}`)) as [string, number])[1]);
      const [here, there, offline] = [await newUser(asApp(one)), await newUser(asApp(two)), await newUser(asApp(one))];
      const hereSocket = await connect(one, here);
      await connect(one, here);
      await connect(two, there);
      // One subscription per user per instance, however many sockets; none for a user held nowhere.
      expect(await subscribers(here.id)).toBe(1);
      expect(await subscribers(there.id)).toBe(1);
      expect(await subscribers(offline.id)).toBe(0);
      await connect(two, here);
      expect(await subscribers(here.id)).toBe(2);
      for (const socket of sockets.splice(0)) socket.close();
      await hereSocket.waitForClose().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await subscribers(here.id)).toBe(0);
      expect(await subscribers(there.id)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('sends ready before any notification, however busy the conversations are while the socket subscribes', async () => {
    const [reader, sender] = [await newUser(asApp(one)), await newUser(asApp(one))];
    const groupId = await newGroup(asApp(one), sender, [reader]);
    let posting = true;
    const poster = (async () => {
      while (posting) await send(asApp(one), sender, groupId, 'busy');
    })();
    try {
      // Each socket is the reader's only one here, so each handshake subscribes in Redis anew
      // while messages for the reader commit on this instance.
      for (let attempt = 0; attempt < 30; attempt++) {
        const socket = await TestSocket.open(one.wsUrl, { token: reader.token });
        const first = await socket.next(() => true);
        socket.close();
        await socket.waitForClose().catch(() => undefined);
        expect(first, `attempt ${attempt}`).toEqual({ type: 'ready', userId: reader.id });
      }
    } finally {
      posting = false;
      await poster;
    }
  });

  it('sees membership changes on every instance at once', async () => {
    const [owner, joiner] = [await newUser(asApp(one)), await newUser(asApp(two))];
    const groupId = await newGroup(asApp(one), owner, []);
    const joinerSocket = await connect(two, joiner);

    await one.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [joiner.id] });
    await joinerSocket.next((f) => f.type === 'conversation.updated' && f.conversationId === groupId);
    const welcome = await send(asApp(one), owner, groupId, 'welcome');
    await joinerSocket.next(forMessage(welcome.id, 'message.created'));

    await one.http().delete(`/api/v1/conversations/${groupId}/members/${joiner.id}`).set(owner.auth);
    await joinerSocket.next((f) => f.type === 'conversation.updated' && f.conversationId === groupId);
    const after = await send(asApp(one), owner, groupId, 'after');
    expect(await joinerSocket.collect(forMessage(after.id), 300)).toEqual([]);
  });

  it('closes a logged-out session’s sockets on every instance with 4401, and no other session’s', async () => {
    const user = await newUser(asApp(one));
    const otherDevice = await logIn(two, user);
    const sessionSockets = [await connect(one, user), await connect(two, user)];
    const otherSockets = [await connect(one, otherDevice), await connect(two, otherDevice)];

    expect((await two.http().post('/api/v1/auth/logout').set(user.auth)).status).toBe(204);
    for (const socket of sessionSockets) expect(await socket.waitForClose()).toBe(4401);
    for (const instance of [one, two]) {
      expect((await instance.http().get('/api/v1/users/me').set(user.auth)).status).toBe(401);
      expect((await instance.http().get('/api/v1/users/me').set(otherDevice.auth)).status).toBe(200);
    }
    for (const socket of otherSockets) {
      socket.send(JSON.stringify({ type: 'ping' }));
      await socket.next((f) => f.type === 'pong');
    }
  });

  it('ends a session on every instance when a used refresh token is replayed', async () => {
    const user = await newUser(asApp(one));
    const sessionSockets = [await connect(one, user), await connect(two, user)];
    const rotated = await one.http().post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken });
    expect(rotated.status).toBe(200);

    const replay = await two.http().post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken });
    expect(replay.status).toBe(401);
    for (const socket of sessionSockets) expect(await socket.waitForClose()).toBe(4401);
    for (const instance of [one, two]) {
      const fresh = instance.http().get('/api/v1/users/me').set('Authorization', `Bearer ${rotated.body.accessToken}`);
      expect((await fresh).status).toBe(401);
      expect((await instance.http().post('/api/v1/auth/refresh').send({ refreshToken: rotated.body.refreshToken })).status).toBe(401);
    }
  });
});

describe('deactivation', () => {
  it('closes the user’s sockets on every instance with 4401', async () => {
    const { one, two, adminName } = await startWithAdmin(sharedRedis);
    try {
      const target = await newUser(asApp(two));
      const onOne = await TestSocket.connect(one.wsUrl, { token: target.token });
      const onTwo = [await TestSocket.connect(two.wsUrl, { token: target.token }), await TestSocket.connect(two.wsUrl, { token: target.token })];

      await deactivate(one, adminName, target.id);
      for (const socket of [onOne, ...onTwo]) expect(await socket.waitForClose()).toBe(4401);
      // And its token is refused by both instances on the next request.
      for (const instance of [one, two]) expect((await instance.http().get('/api/v1/users/me').set(target.auth)).status).toBe(401);
    } finally {
      await Promise.all([one.kill(), two.kill()]);
    }
  });
});

describe('losing an instance or Redis', () => {
  it('closes, once Redis is back, the sockets of a user deactivated on another instance while it was down', async () => {
    const redis = await startRedis();
    const { one, two, adminName } = await startWithAdmin(redis.url);
    let restarted: Awaited<ReturnType<typeof startRedis>> | undefined;
    try {
      const [target, bystander] = [await newUser(asApp(two)), await newUser(asApp(two))];
      const targetOnTwo = await connect(two, target);
      const bystanderOnTwo = await connect(two, bystander);

      await redis.stop();
      await deactivate(one, adminName, target.id);
      // The frame telling instance two could not be published: the socket there is still open.
      await expect(targetOnTwo.waitForClose(1000)).rejects.toThrow('socket did not close');

      restarted = await startRedis(redis.port);
      expect(await targetOnTwo.waitForClose(15_000)).toBe(4401);
      // Only the deactivated user's: everyone else resyncs and stays.
      await bystanderOnTwo.next((f) => f.type === 'resync', 5000);
      bystanderOnTwo.send(JSON.stringify({ type: 'ping' }));
      await bystanderOnTwo.next((f) => f.type === 'pong');
    } finally {
      await restarted?.stop();
      await Promise.all([one.kill(), two.kill()]);
    }
  });

  it('keeps serving on the other instance when one is killed', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const [one, two] = await Promise.all([startService(envFor(sharedRedis, prefix)), startService(envFor(sharedRedis, prefix))]);
    try {
      const [alice, bob] = [await newUser(asApp(one)), await newUser(asApp(two))];
      const conversationId = await newDirect(asApp(one), alice, bob);
      const bobOnTwo = await connect(two, bob);
      await one.kill('SIGKILL');
      const message = await send(asApp(two), alice, conversationId, 'still here');
      await bobOnTwo.next(forMessage(message.id, 'message.created'));
    } finally {
      await Promise.all([one.kill(), two.kill()]);
    }
  });

  it('keeps accepting messages while Redis is down, then resumes fan-out and asks clients to resync', async () => {
    const redis = await startRedis();
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const [one, two] = await Promise.all([startService(envFor(redis.url, prefix)), startService(envFor(redis.url, prefix))]);
    try {
      const [alice, bob] = [await newUser(asApp(one)), await newUser(asApp(two))];
      const conversationId = await newDirect(asApp(one), alice, bob);
      const aliceOnOne = await connect(one, alice);
      const bobOnTwo = await connect(two, bob);
      const before = await send(asApp(one), alice, conversationId, 'before the outage');
      await bobOnTwo.next(forMessage(before.id, 'message.created'));

      await redis.stop();
      // POST still commits and answers 201; a user on the same instance is still notified.
      const during = await send(asApp(one), alice, conversationId, 'during the outage');
      await aliceOnOne.next(forMessage(during.id, 'message.created'));
      expect(await bobOnTwo.collect(forMessage(during.id), 300)).toEqual([]);
      // Redis did not take its frame: the message's outbox row stays for the relay (its sender
      // clears a row within 100 ms of a frame Redis took).
      const db = new pg.Client({ connectionString: inject('databaseUrl') });
      await db.connect();
      try {
        const rows = await db.query(`SELECT count(*)::int AS n FROM fanout_outbox WHERE $1::bigint = ANY (message_ids)`, [during.id]);
        expect(rows.rows[0].n).toBe(1);
      } finally {
        await db.end();
      }
      // Each send fails to publish, and each connection retries several times a second: the log
      // says so once per outage, not once per send or attempt.
      for (let i = 0; i < 20; i++) await send(asApp(one), alice, conversationId, `also during the outage ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const redisWarnings = one
        .output()
        .split('\n')
        .filter((line) => line.includes('"level":40') && line.includes('Redis'))
        .map((line) => (JSON.parse(line) as { msg: string }).msg.replace(/:.*/, ''));
      expect(redisWarnings.sort()).toEqual([
        'Redis publish failing',
        'Redis publisher connection lost, reconnecting',
        'Redis subscriber connection lost, reconnecting',
        'Redis unreachable for presence',
        'Redis unreachable for typing',
      ]);

      const restarted = await startRedis(redis.port);
      try {
        // Both instances reconnect by themselves and tell their clients to catch up.
        await bobOnTwo.next((f) => f.type === 'resync', 15_000);
        const caughtUp = await two
          .http()
          .get(`/api/v1/conversations/${conversationId}/messages`)
          .query({ after: before.seq, limit: 50 })
          .set(bob.auth);
        const missed = caughtUp.body.items.map((m: { body: string }) => m.body);
        expect(missed).toHaveLength(21);
        expect(missed).toContain('during the outage');

        const afterwards = await send(asApp(one), alice, conversationId, 'after the outage');
        await bobOnTwo.next(forMessage(afterwards.id, 'message.created'), 10_000);
      } finally {
        await restarted.stop();
      }
    } finally {
      await Promise.all([one.kill(), two.kill()]);
    }
  });
});
