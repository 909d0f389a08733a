import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { ParleyClient } from '@parley/client/node';
import type { MessageView } from '../../src/messages/message.view.js';
import type { TestApp } from '../support/app.js';
import { Recorder } from '../support/client-recorder.js';
import { newDirect, newGroup, newUser, PASSWORD, type TestUser } from '../support/factories.js';
import { postgresBinaries, startPostgres, type PostgresCluster } from '../support/postgres.js';
import { startService, type ServiceProcess } from '../support/processes.js';
import { closeCodeOf, maskedFrame, Opcode, RawWebSocket } from '../support/raw-ws.js';
import { CloseCode } from '../../src/notifications/frames.js';
import { forMessage, HandshakeRefused, TestSocket } from '../support/ws-client.js';

/**
 * Issue 6, "Faults": the reliability promises checked against real processes that are killed,
 * lose their database, lose their clients, or are fed by clients that never read.
 */
const JWT_SECRET = 'faults-secret-long-enough-for-hs256-0000';
const REDIS_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

/** The factories take a TestApp; a process only needs `http`. */
const asApp = (service: ServiceProcess) => service as unknown as TestApp;

const services: ServiceProcess[] = [];
async function spawnService(env: Record<string, string> = {}): Promise<ServiceProcess> {
  const service = await startService({ DATABASE_URL: inject('databaseUrl'), JWT_SECRET, ...env });
  services.push(service);
  return service;
}

afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.kill('SIGKILL')));
});

/** What became of one POST /api/v1/messages: an HTTP answer, or none (a network error). */
interface Attempt {
  sender: TestUser;
  conversationId: string;
  clientMessageId: string;
  body: string;
  status?: number;
  response?: MessageView & { statusCode?: number; error?: string; message?: string };
  retryAfter?: string | null;
  networkError?: string;
  ms: number;
}

/**
 * Posts with fetch (keep-alive connections, like a real client at full speed) and records the
 * outcome instead of asserting, so a test can look at every request afterwards.
 */
async function post(baseUrl: string, sender: TestUser, conversationId: string, clientMessageId: string, body = clientMessageId): Promise<Attempt> {
  const started = performance.now();
  const attempt: Attempt = { sender, conversationId, clientMessageId, body, ms: 0 };
  try {
    const response = await fetch(`${baseUrl}/api/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...sender.auth },
      body: JSON.stringify({ conversationId, body, clientMessageId }),
      signal: AbortSignal.timeout(20_000),
    });
    attempt.status = response.status;
    attempt.retryAfter = response.headers.get('retry-after');
    attempt.response = (await response.json()) as Attempt['response'];
  } catch (error) {
    attempt.networkError = String((error as { cause?: unknown }).cause ?? error);
  }
  attempt.ms = performance.now() - started;
  return attempt;
}

/** A conversation's whole history, oldest first, read forward with `after=` as a client would. */
async function history(service: ServiceProcess, reader: TestUser, conversationId: string): Promise<MessageView[]> {
  const all: MessageView[] = [];
  for (;;) {
    const page = await service
      .http()
      .get(`/api/v1/conversations/${conversationId}/messages`)
      .query({ after: all.at(-1)?.seq ?? 0, limit: 100 })
      .set(reader.auth);
    expect(page.status).toBe(200);
    all.push(...page.body.items);
    if (!page.body.hasMore) return all;
  }
}

/**
 * The promise behind 201: every acknowledged message is stored exactly once, with the id and
 * seq it was acknowledged with; seqs run 1..N with no gap; no clientMessageId is stored twice;
 * and nothing is stored that no request asked for.
 */
function expectLedgerHolds(stored: MessageView[], acknowledged: MessageView[], asked: Set<string>): void {
  expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
  const byClientId = new Map<string, MessageView[]>();
  for (const message of stored) byClientId.set(message.clientMessageId!, [...(byClientId.get(message.clientMessageId!) ?? []), message]);
  const twice = [...byClientId].filter(([, copies]) => copies.length > 1).map(([id]) => id);
  expect(twice, 'clientMessageIds stored more than once').toEqual([]);
  const unasked = stored.filter((m) => !asked.has(m.clientMessageId!)).map((m) => m.clientMessageId);
  expect(unasked, 'messages nobody sent').toEqual([]);
  for (const ack of acknowledged) {
    const copy = byClientId.get(ack.clientMessageId!)?.[0];
    expect(copy, `acknowledged ${ack.clientMessageId} is missing`).toBeDefined();
    expect({ id: copy!.id, seq: copy!.seq, body: copy!.body }).toEqual({ id: ack.id, seq: ack.seq, body: ack.body });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the service killed with SIGKILL while clients post at full speed', () => {
  it('keeps every acknowledged message exactly once, seqs gapless, and answers retries with the original', async () => {
    const first = await spawnService();
    const users = [await newUser(asApp(first)), await newUser(asApp(first)), await newUser(asApp(first)), await newUser(asApp(first))];
    const groups = [
      await newGroup(asApp(first), users[0], users.slice(1), 'one'),
      await newGroup(asApp(first), users[1], [users[0], users[2], users[3]], 'two'),
    ];
    const run = randomBytes(3).toString('hex');

    // Every user posts into every group as fast as answers come back, until the process dies.
    const attempts: Attempt[] = [];
    const loops = users.flatMap((user, u) =>
      groups.map(async (groupId, g) => {
        for (let i = 0; i < 5000; i++) {
          const attempt = await post(first.url, user, groupId, `${run}-${u}-${g}-${i}`);
          attempts.push(attempt);
          if (attempt.networkError) return;
        }
      }),
    );
    // Mid-way: after a second, and once a fair number were acknowledged.
    const acknowledgedSoFar = () => attempts.filter((a) => a.status === 201).length;
    for (let t = 0; t < 200 && (t < 10 || acknowledgedSoFar() < 20); t++) await sleep(100);
    const acknowledgedBeforeKill = acknowledgedSoFar();
    await first.kill('SIGKILL');
    await Promise.all(loops);

    // Before the kill every request was answered 201; the kill left some without an answer.
    expect(attempts.filter((a) => a.status !== undefined && a.status !== 201)).toEqual([]);
    const acknowledged = attempts.filter((a) => a.status === 201);
    const unanswered = attempts.filter((a) => a.networkError);
    expect(acknowledgedBeforeKill).toBeGreaterThan(20);
    expect(unanswered.length).toBeGreaterThan(0);

    // A new process on the same database. Retrying an unanswered request stores it at most
    // once: 201 if the old process never committed it, 200 with the stored one if it did.
    const second = await spawnService();
    const retried: MessageView[] = [];
    for (const attempt of unanswered) {
      const retry = await post(second.url, attempt.sender, attempt.conversationId, attempt.clientMessageId, attempt.body);
      expect([200, 201], JSON.stringify(retry.response)).toContain(retry.status);
      retried.push(retry.response!);
    }
    // Retrying an acknowledged request answers 200 with the original message.
    for (const attempt of acknowledged.filter((_, i) => i % 5 === 0)) {
      const retry = await post(second.url, attempt.sender, attempt.conversationId, attempt.clientMessageId, attempt.body);
      expect(retry.status).toBe(200);
      expect(retry.response).toEqual(attempt.response);
    }

    for (const groupId of groups) {
      const stored = await history(second, users[0], groupId);
      const asked = new Set(attempts.filter((a) => a.conversationId === groupId).map((a) => a.clientMessageId));
      expectLedgerHolds(
        stored,
        [...acknowledged.map((a) => a.response!), ...retried].filter((m) => m.conversationId === groupId),
        asked,
      );
      // Every request is stored now: the acknowledged ones and every retried one.
      expect(stored.length).toBe(asked.size);
    }
  });
});

const pgBin = postgresBinaries();

describe.skipIf(!pgBin)('PostgreSQL restarted under load', () => {
  let cluster: PostgresCluster | undefined;

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('answers 503 fast while the database is down, never 500, and serves again on its own with nothing lost', { timeout: 120_000 }, async () => {
    cluster = await startPostgres(pgBin!);
    const service = await spawnService({ DATABASE_URL: cluster.url, DATABASE_POOL_SIZE: '4' });
    const users = [await newUser(asApp(service)), await newUser(asApp(service)), await newUser(asApp(service))];
    const groupId = await newGroup(asApp(service), users[0], users.slice(1));
    const run = randomBytes(3).toString('hex');
    // Delivery needs no database: a socket open before the outage stays open through it.
    const listener = await TestSocket.connect(service.wsUrl, { token: users[1].token });

    type Phase = 'before' | 'down' | 'restarted';
    let phase = 'before' as Phase;
    let stop = false;
    const attempts: (Attempt & { phase: Phase })[] = [];
    const reads: { kind: string; status?: number; response?: unknown; retryAfter?: string | null; ms: number; networkError?: string; phase: Phase }[] = [];
    const writers = users.map(async (user, u) => {
      for (let i = 0; !stop && i < 20_000; i++) {
        const during = phase;
        const attempt = await post(service.url, user, groupId, `${run}-${u}-${i}`);
        attempts.push({ ...attempt, phase: during });
        // A real client would honour Retry-After; this one keeps probing, a little more gently.
        if (attempt.status !== 201) await sleep(20);
      }
    });
    // Other kinds of request alongside: a read, an edit (a transaction), a send that opens a
    // direct conversation, a login. Each must answer as usual or 503, never 500.
    const seed = await post(service.url, users[0], await newDirect(asApp(service), users[0], users[1]), `${run}-seed`);
    const json = { 'content-type': 'application/json' };
    const others: Record<string, { expected: number; request: () => Promise<Response> }> = {
      list: { expected: 200, request: () => fetch(`${service.url}/api/v1/conversations`, { headers: users[0].auth }) },
      edit: {
        expected: 200,
        request: () =>
          fetch(`${service.url}/api/v1/messages/${seed.response!.id}`, { method: 'PATCH', headers: { ...json, ...users[0].auth }, body: JSON.stringify({ body: `edited ${Date.now()}` }) }),
      },
      direct: {
        expected: 201,
        request: () =>
          fetch(`${service.url}/api/v1/messages`, { method: 'POST', headers: { ...json, ...users[1].auth }, body: JSON.stringify({ recipientId: users[2].id, body: 'direct' }) }),
      },
      login: {
        expected: 200,
        request: () =>
          fetch(`${service.url}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: users[2].username, password: PASSWORD }) }),
      },
    };
    const readers = Object.entries(others).map(async ([kind, { request }]) => {
      while (!stop) {
        const during = phase;
        const started = performance.now();
        try {
          const response = await request();
          const retryAfter = response.headers.get('retry-after');
          reads.push({ kind, status: response.status, response: await response.json(), retryAfter, ms: performance.now() - started, phase: during });
        } catch (error) {
          reads.push({ kind, networkError: String(error), ms: performance.now() - started, phase: during });
        }
        await sleep(20);
      }
    });

    for (let t = 0; t < 200 && (t < 8 || !attempts.some((a) => a.status === 201)); t++) await sleep(100);
    await cluster.stop();
    phase = 'down';
    // A handshake cannot be authenticated now: 503, so the client retries rather than
    // discarding a token that is still good (401 would tell it to).
    const handshake = await TestSocket.open(service.wsUrl, { token: users[2].token }).then(
      (socket) => (socket.close(), 101),
      (error) => (error instanceof HandshakeRefused ? error.status : String(error)),
    );
    await sleep(2500);
    await cluster.start();
    phase = 'restarted';
    // The same process serves again by itself: the pool reconnects on demand.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !attempts.some((a) => a.phase === 'restarted' && a.status === 201)) await sleep(100);
    await sleep(500);
    stop = true;
    await Promise.all([...writers, ...readers]);

    expect(service.process.exitCode, service.output()).toBeNull();
    expect(handshake).toBe(503);
    expect(attempts.filter((a) => a.phase === 'restarted' && a.status === 201).length).toBeGreaterThan(0);
    expect(attempts.filter((a) => a.phase === 'before' && a.status === 201).length).toBeGreaterThan(0);
    const failed = attempts.filter((a) => a.status !== 201);
    const downWrites = attempts.filter((a) => a.phase === 'down');
    expect(downWrites.length).toBeGreaterThan(0);
    expect(downWrites.filter((a) => a.status === 503).length).toBeGreaterThan(0);

    // Never a 500 or a dropped connection: 201, or 503 in the contract's error shape with Retry-After.
    expect(attempts.filter((a) => a.status !== 201 && a.status !== 503), service.output()).toEqual([]);
    expect(reads.filter((r) => r.status !== others[r.kind].expected && r.status !== 503), service.output()).toEqual([]);
    for (const kind of Object.keys(others)) expect(reads.some((r) => r.kind === kind && r.phase === 'down' && r.status === 503)).toBe(true);
    for (const answer of [...failed, ...reads.filter((r) => r.status === 503)]) {
      expect(answer.response).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.any(String) });
      expect(answer.retryAfter).toBe('1');
    }
    // Failing fast: no request waited anywhere near the pool's 5 s connection timeout.
    const slowest = Math.max(...attempts.map((a) => a.ms), ...reads.map((r) => r.ms));
    expect(slowest).toBeLessThan(6000);

    // A client retries what failed with the same clientMessageId; some of those may have
    // committed just before the server died, and must not be stored twice.
    const retried: MessageView[] = [];
    for (const attempt of failed) {
      const retry = await post(service.url, attempt.sender, groupId, attempt.clientMessageId, attempt.body);
      expect([200, 201], JSON.stringify(retry.response)).toContain(retry.status);
      retried.push(retry.response!);
    }
    const stored = await history(service, users[0], groupId);
    const asked = new Set(attempts.map((a) => a.clientMessageId));
    expectLedgerHolds(stored, [...attempts.filter((a) => a.status === 201).map((a) => a.response!), ...retried], asked);
    expect(stored.length).toBe(asked.size);

    // The socket that lived through the outage, and one opened after it, hear the next message.
    const reconnected = await TestSocket.connect(service.wsUrl, { token: users[2].token });
    const next = await post(service.url, users[0], groupId, `${run}-next`);
    for (const socket of [listener, reconnected]) {
      await socket.next(forMessage(next.response!.id, 'message.created'), 10_000);
      socket.close();
    }
  });
});

describe('a client that disconnects in the middle of a burst and reconnects', () => {
  it('catches up on every message, edit, delete, reaction, pin and reply count with no loss and no duplicate, in order', { timeout: 60_000 }, async () => {
    const service = await spawnService();
    const [alice, bob, carol] = [await newUser(asApp(service)), await newUser(asApp(service)), await newUser(asApp(service))];
    const direct = await newDirect(asApp(service), bob, alice);
    const group = await newGroup(asApp(service), bob, [alice, carol]);
    const sent: MessageView[] = [];
    const say = async (from: TestUser, conversationId: string, body: string) => {
      const attempt = await post(service.url, from, conversationId, `${body}-${randomBytes(4).toString('hex')}`, body);
      expect(attempt.status, JSON.stringify(attempt.response)).toBe(201);
      sent.push(attempt.response!);
      return attempt.response!;
    };
    const edit = async (by: TestUser, message: MessageView, body: string) =>
      expect((await service.http().patch(`/api/v1/messages/${message.id}`).set(by.auth).send({ body })).status).toBe(200);
    const remove = async (by: TestUser, message: MessageView) =>
      expect((await service.http().delete(`/api/v1/messages/${message.id}`).set(by.auth)).status).toBe(204);
    // Reactions, pins and replies change a message too (its changeSeq moves): the feed carries them.
    const react = async (by: TestUser, message: MessageView, emoji: string, add = true) =>
      expect((await service.http()[add ? 'put' : 'delete'](`/api/v1/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`).set(by.auth)).status).toBe(204);
    const pin = async (by: TestUser, message: MessageView, add = true) =>
      expect((await service.http()[add ? 'put' : 'delete'](`/api/v1/conversations/${message.conversationId}/pins/${message.id}`).set(by.auth)).status).toBe(204);
    const reply = async (from: TestUser, to: MessageView, body: string) => {
      const answer = await service.http().post('/api/v1/messages').set(from.auth).send({ conversationId: to.conversationId, body, replyToId: to.id });
      expect(answer.status, JSON.stringify(answer.body)).toBe(201);
      sent.push(answer.body);
      return answer.body as MessageView;
    };

    const seeds = [await say(bob, direct, 'seed-d1'), await say(bob, direct, 'seed-d2'), await say(carol, group, 'seed-g1'), await say(carol, group, 'seed-g2')];
    // The client library (packages/client), which runs docs/socket.md's catch-up procedure.
    const client = new ParleyClient({ baseUrl: service.url, token: alice.token, backlog: 'all' });
    const seen = new Recorder(client);
    await client.connect();

    // Three senders in a burst; the client drops off a third of the way in and comes back
    // while the burst is still running, so frames and the catch-up overlap.
    let offline: Promise<void> | undefined;
    const perSender = 40;
    const burst = async (from: TestUser, conversationId: string, tag: string) => {
      for (let i = 0; i < perSender; i++) {
        await say(from, conversationId, `${tag}-${i}`);
        if (sent.length >= seeds.length + perSender && !offline) {
          offline = goOffline();
          // Awaited below; handled here too, so a failing burst does not leave it unhandled.
          offline.catch(() => undefined);
        }
      }
    };
    const goOffline = async () => {
      client.disconnect();
      // While it is away: edits and deletes of messages it has, and of ones it never saw;
      // a new conversation it is added to, with messages and an edit.
      await edit(bob, seeds[0], 'seed-d1 (edited offline)');
      await remove(carol, seeds[3]);
      const unseen = await say(bob, group, 'unseen');
      await edit(bob, unseen, 'unseen (edited)');
      const doomed = await say(bob, direct, 'doomed');
      await remove(bob, doomed);
      const fresh = await newGroup(asApp(service), carol, [alice, bob], 'fresh');
      for (let i = 0; i < 5; i++) await say(carol, fresh, `fresh-${i}`);
      await edit(carol, sent.findLast((m) => m.conversationId === fresh)!, 'fresh-4 (edited)');
      // Reactions, a pin and a reply (its root's replyCount: a deleted root) on messages it
      // has, each the last change of its message; a reaction and a pin on ones it never saw.
      await react(carol, seeds[2], '👍');
      await react(bob, seeds[2], '👍');
      await pin(bob, seeds[1]);
      await reply(carol, seeds[3], 'a reply to a deleted message while away');
      await react(bob, unseen, '🎉');
      await pin(carol, sent.find((m) => m.conversationId === fresh)!);
      while (sent.length < seeds.length + 2 * perSender) await sleep(10);
      await client.connect();
    };
    await Promise.all([burst(bob, direct, 'd'), burst(bob, group, 'g'), burst(carol, group, 'c')]);
    await offline;
    // Changes after the reconnect arrive as frames.
    await edit(bob, seeds[1], 'seed-d2 (edited live)');
    await pin(alice, seeds[1], false);
    await react(bob, seeds[2], '👍', false);
    await react(alice, seeds[2], '❤');
    await reply(bob, seeds[0], 'a reply once back');
    await say(carol, group, 'last');

    const conversations = (await service.http().get('/api/v1/conversations').query({ limit: 100 }).set(alice.auth)).body.items as { id: string }[];
    expect(conversations).toHaveLength(3);
    for (const conversation of conversations) {
      const truth = (await service.http().get(`/api/v1/conversations/${conversation.id}/changes`).query({ since: 0, limit: 500 }).set(alice.auth)).body.items as MessageView[];
      truth.sort((a, b) => a.seq - b.seq);
      expect(truth.map((m) => m.seq)).toEqual(truth.map((_, i) => i + 1));
      // Nothing lost: every message, seqs 1..N, each at its newest version (edits and deletes too).
      await expect.poll(() => seen.messages(conversation.id), { timeout: 20_000 }).toEqual(truth);
      // Each emitted once, in seq order; no version emitted twice.
      seen.expectExactlyOnceInOrder(conversation.id);
    }
    // Every acknowledged message is held.
    const heldIds = new Set(conversations.flatMap((c) => seen.messages(c.id).map((m) => m.id)));
    expect(sent.filter((m) => !heldIds.has(m.id))).toEqual([]);
    client.close();
  });
});

/** The process's resident memory, as the kernel counts it. */
function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

describe.skipIf(process.platform !== 'linux')('a client that never reads its socket', () => {
  it('is dropped once its unsent data passes the limit, and the server’s memory stays bounded', { timeout: 120_000 }, async () => {
    // Frames are not rate-limited here: this client's pings are how it makes the server owe it data.
    const service = await spawnService({ WS_MAX_BUFFERED_BYTES: String(64 * 1024), WS_MAX_FRAMES_PER_SECOND: '1000000' });
    const [sender, reader] = [await newUser(asApp(service)), await newUser(asApp(service))];
    const conversationId = await newDirect(asApp(service), sender, reader);
    const healthy = await TestSocket.connect(service.wsUrl, { token: reader.token });
    const slow = await TestSocket.connect(service.wsUrl, { token: reader.token });
    const tcp = (slow.socket as unknown as { _socket: Socket })._socket;
    tcp.pause();
    const dropped = () => service.output().includes('Dropping a slow consumer');

    const pid = service.process.pid!;
    const baseline = rssBytes(pid);
    let peak = baseline;
    // The client never reads but keeps asking: every ping owes it a pong, every message a
    // notification. Frames carry ids only, so the kernel's socket buffers (megabytes) fill first.
    let posting = true;
    let posted = 0;
    const poster = (async () => {
      while (posting && posted < 5000) {
        const attempt = await post(service.url, sender, conversationId, randomBytes(6).toString('hex'));
        expect(attempt.status).toBe(201);
        posted++;
      }
    })();
    // It sets out to make the server owe it FLOOD_BYTES of pongs. Queued in the process, tiny
    // frames cost about 15 bytes of memory per byte (with the limit off, this flood grew the
    // process by ~590 MB). The healthy socket's pong paces the flood to the server's speed, so
    // HTTP requests and notifications keep flowing meanwhile.
    const ping = JSON.stringify({ type: 'ping' });
    const pongBytes = Buffer.byteLength(JSON.stringify({ type: 'pong' })) + 2;
    const FLOOD_BYTES = 40 * 1024 * 1024;
    let pings = 0;
    while (pings * pongBytes < FLOOD_BYTES && slow.socket.readyState === slow.socket.OPEN) {
      for (let i = 0; i < 5000; i++) slow.send(ping);
      pings += 5000;
      healthy.send(ping);
      await healthy.next((frame) => frame.type === 'pong', 30_000);
      peak = Math.max(peak, rssBytes(pid));
    }
    posting = false;
    await poster;
    expect(dropped(), service.output()).toBe(true);
    // Cut off well before it got what it asked for.
    expect(pings * pongBytes).toBeLessThan(FLOOD_BYTES / 2);

    // Reading again, the client finds the socket closed: 4408 if the close frame got through
    // within the grace period, else cut off (1006) when the server destroyed the socket.
    tcp.resume();
    expect([4408, 1006]).toContain(await slow.waitForClose(10_000));
    peak = Math.max(peak, rssBytes(pid));
    const growth = peak - baseline;
    expect(growth, `RSS grew by ${growth} bytes`).toBeLessThan(FLOOD_BYTES / 2);

    // The process still serves, and the user's other socket still hears everything.
    expect(posted).toBeGreaterThan(0);
    const after = await post(service.url, sender, conversationId, randomBytes(6).toString('hex'));
    expect(after.status).toBe(201);
    await healthy.next(forMessage(after.response!.id, 'message.created'), 20_000);
    healthy.close();
    expect(service.process.exitCode).toBeNull();
  });
});

describe('a client that floods its socket with frames', () => {
  it('is closed with 1008 once past WS_MAX_FRAMES_PER_SECOND, and the service keeps serving everyone else', { timeout: 60_000 }, async () => {
    const limit = 20;
    const service = await spawnService({ WS_MAX_FRAMES_PER_SECOND: String(limit) });
    const [flooder, sender, reader] = [await newUser(asApp(service)), await newUser(asApp(service)), await newUser(asApp(service))];
    const conversationId = await newDirect(asApp(service), sender, reader);
    const listener = await TestSocket.connect(service.wsUrl, { token: reader.token });
    const flood = await TestSocket.connect(service.wsUrl, { token: flooder.token });

    // As fast as it can, reading every pong: never a slow consumer, only a busy one.
    const ping = JSON.stringify({ type: 'ping' });
    for (let i = 0; i < 100_000 && flood.socket.readyState === flood.socket.OPEN; i++) {
      flood.send(ping);
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await flood.waitForClose(10_000)).toBe(1008);
    // Answered at most one second's worth before it was cut off.
    expect(flood.frames.filter((frame) => frame.type === 'pong').length).toBeLessThanOrEqual(limit);

    // Everyone else is served as before; a client that pings at a normal pace is left alone.
    const posted = await post(service.url, sender, conversationId, randomBytes(6).toString('hex'));
    expect(posted.status).toBe(201);
    await listener.next(forMessage(posted.response!.id, 'message.created'));
    for (let i = 0; i < 3; i++) {
      listener.send(ping);
      await listener.next((frame) => frame.type === 'pong');
    }
    listener.close();
    expect(service.process.exitCode).toBeNull();
  });
});

/** Samples the process's RSS every 50 ms; `stop` ends that and answers the highest seen. */
function watchRss(pid: number): { baseline: number; stop: () => number } {
  const baseline = rssBytes(pid);
  let peak = baseline;
  const sample = () => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // Gone (a failed test killed it): nothing more to sample.
    }
    return peak;
  };
  const timer = setInterval(sample, 50);
  return {
    baseline,
    stop: () => {
      clearInterval(timer);
      return sample();
    },
  };
}

describe.skipIf(process.platform !== 'linux')('a raw client that writes ping control frames and never reads', () => {
  // Each ping carries the most a control frame may (125 bytes), and is owed a pong as large.
  const ping = maskedFrame(Opcode.Ping, randomBytes(125));
  const FLOOD_BYTES = 64 * 1024 * 1024;

  it('is cut off once past WS_MAX_FRAMES_PER_SECOND, with the server’s memory bounded and everyone else served', { timeout: 120_000 }, async () => {
    const service = await spawnService({ WS_MAX_FRAMES_PER_SECOND: '20' });
    const [flooder, sender, reader] = [await newUser(asApp(service)), await newUser(asApp(service)), await newUser(asApp(service))];
    const conversationId = await newDirect(asApp(service), sender, reader);
    const listener = await TestSocket.connect(service.wsUrl, { token: reader.token });
    const raw = await RawWebSocket.open(service.wsUrl, flooder.token);
    const rss = watchRss(service.process.pid!);

    const flood = raw.flood(ping, FLOOD_BYTES);
    // Meanwhile another user sends, and the message is notified.
    const posted = await post(service.url, sender, conversationId, randomBytes(6).toString('hex'));
    expect(posted.status).toBe(201);
    await listener.next(forMessage(posted.response!.id, 'message.created'), 20_000);
    const written = await flood;
    const growth = rss.stop() - rss.baseline;
    expect(written, 'the flood ran to its end').toBeLessThan(FLOOD_BYTES / 4);
    expect(growth, `RSS grew by ${growth} bytes`).toBeLessThan(16 * 1024 * 1024);
    // A client that never reads cannot see the 1008 close frame; what it can see is the
    // server destroying the connection once the close grace is over: its writes fail.
    await raw.waitForClose(10_000);

    const after = await post(service.url, sender, conversationId, randomBytes(6).toString('hex'));
    expect(after.status).toBe(201);
    await listener.next(forMessage(after.response!.id, 'message.created'), 20_000);
    listener.close();
    expect(service.process.exitCode).toBeNull();
  });

  it('is dropped as a slow consumer once the pongs it is owed pass WS_MAX_BUFFERED_BYTES, below the frame limit', { timeout: 120_000 }, async () => {
    const service = await spawnService({ WS_MAX_BUFFERED_BYTES: String(64 * 1024), WS_MAX_FRAMES_PER_SECOND: '1000000' });
    const user = await newUser(asApp(service));
    const raw = await RawWebSocket.open(service.wsUrl, user.token);
    const rss = watchRss(service.process.pid!);

    const written = await raw.flood(ping, FLOOD_BYTES);
    const growth = rss.stop() - rss.baseline;
    // Cut off once the kernel's buffers and the limit were full, far short of what it asked.
    expect(written, 'the flood ran to its end').toBeLessThan(FLOOD_BYTES / 4);
    expect(growth, `RSS grew by ${growth} bytes`).toBeLessThan(16 * 1024 * 1024);
    await raw.waitForClose(10_000);
    expect(service.output()).toContain('Dropping a slow consumer');
    // The user's next socket is served.
    const next = await TestSocket.connect(service.wsUrl, { token: user.token });
    next.send(JSON.stringify({ type: 'ping' }));
    await next.next((frame) => frame.type === 'pong');
    next.close();
  });
});

describe.skipIf(process.platform !== 'linux')('a raw client that never reads and never writes, fed by notifications alone', () => {
  it('is dropped once its unsent data passes WS_MAX_BUFFERED_BYTES, with the server’s memory bounded', { timeout: 120_000 }, async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const service = await spawnService({ REDIS_URL: REDIS_URL, REDIS_CHANNEL_PREFIX: prefix, WS_MAX_BUFFERED_BYTES: '16384' });
    const [reader, sender] = [await newUser(asApp(service)), await newUser(asApp(service))];
    const groupId = await newGroup(asApp(service), sender, [reader]);
    const listener = await TestSocket.connect(service.wsUrl, { token: sender.token });
    const raw = await RawWebSocket.open(service.wsUrl, reader.token);
    const rss = watchRss(service.process.pid!);
    const dropped = () => service.output().includes('Dropping a slow consumer');

    // Frames carry ids only: it takes tens of thousands to fill the kernel's buffers before the
    // server's own queue for the socket grows, more than this process posts in a short test.
    // So besides the messages posted here, the group is busy on other instances: their
    // notifications reach this one through Redis, as in any deployment of several instances.
    const redis = new Redis(REDIS_URL);
    const fromElsewhere = `other-instance|${JSON.stringify({ type: 'conversation.updated', conversationId: groupId })}`;
    const posted: string[] = [];
    let publishing = true;
    const poster = (async () => {
      while (publishing && !dropped()) {
        const attempt = await post(service.url, sender, groupId, randomBytes(6).toString('hex'));
        expect(attempt.status).toBe(201);
        posted.push(attempt.response!.id);
      }
    })();
    let published = 0;
    while (!dropped() && published < 300_000) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 1000; i++) pipeline.publish(`${prefix}:u:${reader.id}`, fromElsewhere);
      await pipeline.exec();
      published += 1000;
    }
    publishing = false;
    await poster;
    redis.disconnect();
    const growth = rss.stop() - rss.baseline;
    expect(dropped(), 'dropped as a slow consumer').toBe(true);
    expect(growth, `RSS grew by ${growth} bytes`).toBeLessThan(16 * 1024 * 1024);

    // Reading at last, the client gets what the kernel held, then the end of the connection:
    // the server destroyed it after the close grace, with the 4408 close frame still queued
    // behind the unread data (or got that frame out in time).
    const frames = await raw.readToEnd(10_000);
    const texts = frames.filter((frame) => frame.opcode === Opcode.Text).map((frame) => JSON.parse(frame.payload.toString()));
    const closes = frames.filter((frame) => frame.opcode === Opcode.Close).map(closeCodeOf);
    expect(closes.every((code) => code === CloseCode.SlowConsumer)).toBe(true);
    expect(texts[0]).toMatchObject({ type: 'ready' });
    expect(texts.length).toBeGreaterThan(1);
    expect(texts.length).toBeLessThan(posted.length + published);
    // The group's frames, and perhaps the sender's presence (it came online just before).
    const ofTheGroup = (frame: { type: string; conversationId?: string; userId?: string }) =>
      frame.conversationId === groupId || (frame.type === 'presence' && frame.userId === sender.id);
    expect(texts.slice(1).every(ofTheGroup)).toBe(true);

    // Everyone else was served meanwhile, and is after: the sender's socket heard every message.
    for (const id of posted) await listener.next(forMessage(id, 'message.created'), 20_000);
    const after = await post(service.url, sender, groupId, randomBytes(6).toString('hex'));
    expect(after.status).toBe(201);
    await listener.next(forMessage(after.response!.id, 'message.created'), 20_000);
    listener.close();
    expect(service.process.exitCode).toBeNull();
  });
});
