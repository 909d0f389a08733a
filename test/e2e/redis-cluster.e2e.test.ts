import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { keySlot } from '../../src/redis/redis-key-slot.js';
import type { PresenceFrame, ServerFrame } from '../../src/notifications/frames.js';
import { presenceKeyBase } from '../../src/presence/redis-presence-store.js';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newGroup, newUser, send, type TestUser } from '../support/factories.js';
import { startService, type ServiceProcess } from '../support/processes.js';
import { forMessage, TestSocket } from '../support/ws-client.js';

/**
 * Instances on a Redis Cluster (REDIS_CLUSTER_NODES): three masters, each with a replica, that
 * test/support/redis-cluster.sh runs on local ports (CI starts it before the tests) and whose
 * nodes it prints for REDIS_CLUSTER_TEST_NODES. The failover test kills a master and runs the
 * script again afterwards, which starts the node again as a replica. Without the variable the
 * suite is skipped, except in CI, where it fails.
 */
const CLUSTER_NODES = process.env.REDIS_CLUSTER_TEST_NODES;
const runClusterTests = Boolean(CLUSTER_NODES) || Boolean(process.env.CI);
if (!runClusterTests) {
  console.warn('Redis Cluster tests skipped: export REDIS_CLUSTER_TEST_NODES="$(bash test/support/redis-cluster.sh)" to run them');
}

const root = path.resolve(import.meta.dirname, '../..');
const JWT_SECRET = 'redis-cluster-secret-long-enough-000000';

interface Node {
  host: string;
  port: number;
}

function clusterNodes(): Node[] {
  if (!CLUSTER_NODES) {
    throw new Error('REDIS_CLUSTER_TEST_NODES is unset: start the cluster with test/support/redis-cluster.sh and export the node list it prints');
  }
  return CLUSTER_NODES.split(',').map((entry) => {
    const separator = entry.lastIndexOf(':');
    return { host: entry.slice(0, separator), port: Number(entry.slice(separator + 1)) };
  });
}

const nodeKey = (node: Node) => `${node.host}:${node.port}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const asApp = (service: ServiceProcess) => service as unknown as TestApp;

/** Runs `command` on one node of the cluster. */
async function onNode<T>(node: string, command: (redis: Redis) => Promise<T>): Promise<T> {
  const separator = node.lastIndexOf(':');
  const redis = new Redis({ host: node.slice(0, separator), port: Number(node.slice(separator + 1)), lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await command(redis);
  } finally {
    redis.disconnect();
  }
}

/** The masters of the cluster as a live node sees them: which holds each slot, and its replicas. */
async function topology(): Promise<{ masterOf: (slot: number) => string; masters: string[]; replicasOf: (master: string) => string[] }> {
  for (const node of clusterNodes()) {
    const ranges = await onNode(nodeKey(node), (redis) => redis.cluster('SLOTS')).catch(() => undefined);
    if (!ranges) continue;
    const owners = ranges.map(([start, end, master, ...replicas]) => ({
      start: Number(start),
      end: Number(end),
      master: `${master[0]}:${master[1]}`,
      replicas: replicas.map((replica) => `${replica[0]}:${replica[1]}`),
    }));
    return {
      masterOf: (slot) => owners.find((owner) => owner.start <= slot && slot <= owner.end)!.master,
      masters: [...new Set(owners.map((owner) => owner.master))],
      replicasOf: (master) => owners.find((owner) => owner.master === master)!.replicas,
    };
  }
  throw new Error('no node of the Redis Cluster answers');
}

/** Makes the cluster whole again (a killed node started again rejoins as a replica). */
async function restoreCluster(): Promise<void> {
  const ports = clusterNodes().map((node) => node.port);
  await promisify(execFile)('bash', ['test/support/redis-cluster.sh'], {
    cwd: root,
    env: { ...process.env, REDIS_CLUSTER_PORTS: ports.join(' ') },
    timeout: 120_000,
  });
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}

const sockets: TestSocket[] = [];
async function connect(service: ServiceProcess, user: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(service.wsUrl, { token: user.token });
  sockets.push(socket);
  return socket;
}

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

describe.runIf(runClusterTests)('two instances on a Redis Cluster', () => {
  let one: ServiceProcess;
  let two: ServiceProcess;
  let prefix: string;

  beforeAll(async () => {
    prefix = `t${randomBytes(4).toString('hex')}`;
    const env = { DATABASE_URL: inject('databaseUrl'), REDIS_CLUSTER_NODES: clusterNodes().map(nodeKey).join(','), REDIS_CHANNEL_PREFIX: prefix, JWT_SECRET };
    [one, two] = await Promise.all([startService(env), startService(env)]);
  });

  afterAll(async () => {
    await Promise.all([one?.kill(), two?.kill()]);
  });

  it('delivers across instances exactly once, on sharded channels spread over every master', async () => {
    const sender = await newUser(asApp(one));
    const members: TestUser[] = [];
    for (let i = 0; i < 30; i++) members.push(await newUser(asApp(two)));
    const groupId = await newGroup(asApp(one), sender, members);
    const listeners = [];
    for (const member of members) listeners.push(await connect(two, member));

    // Each member's channel is subscribed with SSUBSCRIBE on the master that holds its slot (by
    // instance two alone), none with classic SUBSCRIBE; 30 channels reach all three masters.
    const { masterOf, masters } = await topology();
    expect(masters).toHaveLength(3);
    const channels = members.map((member) => `${prefix}:u:${member.id}`);
    const sharded = new Map<string, string[]>();
    for (const master of masters) {
      sharded.set(master, (await onNode(master, (redis) => redis.call('PUBSUB', 'SHARDCHANNELS', `${prefix}:u:*`))) as string[]);
      expect(await onNode(master, (redis) => redis.pubsub('CHANNELS', `${prefix}:u:*`))).toEqual([]);
    }
    expect([...sharded.values()].flat().sort()).toEqual([...channels].sort());
    for (const [master, held] of sharded) {
      expect(held.length, `channels on ${master}`).toBeGreaterThan(0);
      for (const channel of held) expect(masterOf(keySlot(channel))).toBe(master);
      const counts = (await onNode(master, (redis) => redis.call('PUBSUB', 'SHARDNUMSUB', ...held))) as (string | number)[];
      for (let i = 1; i < counts.length; i += 2) expect(Number(counts[i])).toBe(1);
    }

    const message = await send(asApp(one), sender, groupId, 'across the shards');
    for (const socket of listeners) await socket.next(forMessage(message.id, 'message.created'));
    await sleep(300);
    for (const socket of listeners) expect(socket.frames.filter(forMessage(message.id))).toEqual([]);
    // And back: a member on instance two to the sender on one.
    const senderOnOne = await connect(one, sender);
    const reply = await send(asApp(two), members[0], groupId, 'back across');
    await senderOnOne.next(forMessage(reply.id, 'message.created'));
  });

  it('keeps presence and typing in the cluster, each script’s keys in one slot', async () => {
    const [alice, bob] = [await newUser(asApp(one)), await newUser(asApp(two))];
    const conversationId = await newDirect(asApp(one), alice, bob);
    const aliceOnOne = await connect(one, alice);
    const bobOnTwo = await connect(two, bob);
    // Bob came online on instance two: announced to Alice on instance one.
    const online = await aliceOnOne.next<PresenceFrame>((frame) => frame.type === 'presence' && frame.userId === bob.id && frame.status === 'online');
    expect(online.status).toBe('online');
    const present = await one.http().get('/api/v1/presence').query({ userIds: bob.id }).set(alice.auth);
    expect(present.body.items).toEqual([expect.objectContaining({ userId: bob.id, status: 'online' })]);

    aliceOnOne.send(JSON.stringify({ type: 'typing', conversationId }));
    await bobOnTwo.next((frame: ServerFrame) => frame.type === 'typing' && frame.conversationId === conversationId && frame.userId === alice.id);

    const cluster = new Cluster(clusterNodes());
    try {
      const base = presenceKeyBase(prefix);
      expect(Number(await cluster.hget(`${base}:online`, bob.id))).toBe(1);
      expect(await cluster.zcard(`${base}:instances`)).toBe(2);
      expect(await cluster.exists(`${prefix}:typing:${alice.id}:{${conversationId}}`)).toBe(1);
    } finally {
      cluster.disconnect();
    }
  });

  it('follows a channel whose slot is migrated to another master, and asks its clients to resync', async () => {
    const bob = await newUser(asApp(two));
    const channel = `${prefix}:u:${bob.id}`;
    const slot = keySlot(channel);
    const { masterOf, masters } = await topology();
    const from = masterOf(slot);
    // A sender whose own channel stays on that master: instance one's sends to both go in one
    // pipeline, half of which will be redirected.
    let alice = await newUser(asApp(one));
    for (let tries = 0; tries < 40 && masterOf(keySlot(`${prefix}:u:${alice.id}`)) !== from; tries++) alice = await newUser(asApp(one));
    expect(masterOf(keySlot(`${prefix}:u:${alice.id}`))).toBe(from);
    expect(keySlot(`${prefix}:u:${alice.id}`)).not.toBe(slot);
    const conversationId = await newDirect(asApp(one), alice, bob);
    const bobOnTwo = await connect(two, bob);
    const before = await send(asApp(one), alice, conversationId, 'before the slot moves');
    await bobOnTwo.next(forMessage(before.id, 'message.created'));

    // Resharding, one slot: Bob's channel's, from its master to another.
    const to = masters.find((master) => master !== from)!;
    const idOf = (node: string) => onNode(node, (redis) => redis.cluster('MYID'));
    const [fromId, toId] = [await idOf(from), await idOf(to)];
    await onNode(to, (redis) => redis.cluster('SETSLOT', slot, 'IMPORTING', fromId));
    await onNode(from, (redis) => redis.cluster('SETSLOT', slot, 'MIGRATING', toId));
    const keys = await onNode(from, (redis) => redis.cluster('GETKEYSINSLOT', slot, 1000));
    if (keys.length > 0) {
      const [host, port] = to.split(':');
      await onNode(from, (redis) => redis.migrate(host, port, '', 0, 5000, 'KEYS', ...keys));
    }
    for (const master of masters) await onNode(master, (redis) => redis.cluster('SETSLOT', slot, 'NODE', toId));

    await bobOnTwo.next((frame) => frame.type === 'resync', 15_000);
    expect(await onNode(to, (redis) => redis.call('PUBSUB', 'SHARDCHANNELS', channel))).toEqual([channel]);
    const after = await send(asApp(one), alice, conversationId, 'after the slot moved');
    await bobOnTwo.next(forMessage(after.id, 'message.created'));
    expect(await bobOnTwo.collect(forMessage(after.id), 300)).toEqual([]);
  });

  it('survives losing a master: its replica takes over, the instances resubscribe and ask their clients to resync, and nothing is lost', async () => {
    await restoreCluster();
    const [alice, bob] = [await newUser(asApp(one)), await newUser(asApp(two))];
    const conversationId = await newDirect(asApp(one), alice, bob);
    const aliceOnOne = await connect(one, alice);
    const bobOnTwo = await connect(two, bob);
    const before = await send(asApp(one), alice, conversationId, 'before the failover');
    await bobOnTwo.next(forMessage(before.id, 'message.created'));

    // The master of Bob's channel: instance two loses its subscription with it.
    const { masterOf, replicasOf } = await topology();
    const victim = masterOf(keySlot(`${prefix}:u:${bob.id}`));
    const [replica] = replicasOf(victim);
    // Alice's channel may live on the same master: then instance one loses hers too.
    const aliceLosesHers = masterOf(keySlot(`${prefix}:u:${alice.id}`)) === victim;
    const pid = Number(/process_id:(\d+)/.exec(await onNode(victim, (redis) => redis.info('server')))![1]);
    try {
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      const promoted = (async () => {
        while ((await onNode(replica, (redis) => redis.role()).catch(() => []))[0] !== 'master') await sleep(50);
        return Date.now() - killedAt;
      })();
      // Sends go on committing while the shard is gone; their frames to Bob may be lost.
      const during = [];
      for (let i = 0; i < 5; i++) {
        during.push(await send(asApp(one), alice, conversationId, `during the failover ${i}`));
        await sleep(200);
      }
      await bobOnTwo.next((frame) => frame.type === 'resync', 30_000);
      const resyncedMs = Date.now() - killedAt;
      const promotedMs = await promoted;
      console.log(`Redis Cluster failover: replica ${replica} promoted after ${promotedMs} ms; clients asked to resync after ${resyncedMs} ms`);
      expect(resyncedMs).toBeGreaterThanOrEqual(promotedMs);

      // Catching up by seq loses nothing.
      const caughtUp = await two
        .http()
        .get(`/api/v1/conversations/${conversationId}/messages`)
        .query({ after: before.seq, limit: 50 })
        .set(bob.auth);
      expect(caughtUp.status).toBe(200);
      expect(caughtUp.body.items.map((item: { id: string }) => item.id)).toEqual(during.map((message) => message.id));

      // Live again both ways across instances, exactly once, once each instance has resubscribed
      // (a frame published before that reaches no one; the resync is how a client learns it).
      if (aliceLosesHers) await aliceOnOne.next((frame) => frame.type === 'resync', 30_000);
      const after = await send(asApp(one), alice, conversationId, 'after the failover');
      await bobOnTwo.next(forMessage(after.id, 'message.created'), 10_000);
      const reply = await send(asApp(two), bob, conversationId, 'reply after the failover');
      await aliceOnOne.next(forMessage(reply.id, 'message.created'), 10_000);
      expect(await bobOnTwo.collect(forMessage(after.id), 300)).toEqual([]);
      for (const instance of [one, two]) await eventually(async () => (await instance.http().get('/health/ready')).status === 200);
      // The instance whose subscription was lost said so (tests log warnings only). Once as a
      // rule; a second time has been seen under CI load (see bench/HISTORY.md, 14:38).
      expect(two.output().split(`Redis subscriber connection to ${victim} lost`).length).toBeGreaterThanOrEqual(2);
    } finally {
      await restoreCluster();
    }
  }, 120_000);
});

describe.runIf(runClusterTests)('rate limits on a Redis Cluster', () => {
  it('counts sends for the installation, across instances', async () => {
    const limits = { REDIS_CLUSTER_NODES: clusterNodes().map(nodeKey).join(','), REDIS_CHANNEL_PREFIX: `t${randomBytes(4).toString('hex')}`, RATE_LIMIT_SEND_PER_USER: '5/60' };
    const [one, two] = [await startApp(limits), await startApp(limits)];
    try {
      const [a, b] = [await newUser(one), await newUser(one)];
      const conversationId = await newDirect(one, a, b);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        statuses.push((await (i % 2 ? two : one).http().post('/api/v1/messages').set(a.auth).send({ conversationId, body: `a${i}` })).status);
      }
      expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
      // Another user's count is its own.
      expect((await two.http().post('/api/v1/messages').set(b.auth).send({ conversationId, body: 'b' })).status).toBe(201);
      expect((await one.http().get('/health/ready')).body.info).toMatchObject({ redis: { status: 'up' } });
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});
