import { createECDH, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newGroup, newUser, send, type TestUser } from '../support/factories.js';
import { PushDeliverer } from '../../src/push/push-deliverer.js';
import { whileLookupsBusy } from '../support/lookups-busy.js';
import { PushService } from '../support/push-service.js';
import { TestSocket } from '../support/ws-client.js';

let app: TestApp;
let db: pg.Client;
let service: PushService;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  db = new pg.Client({ connectionString: inject('databaseUrl') });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

async function subscribe(user: TestUser, browser = service.newBrowser()): Promise<{ id: string; endpoint: string }> {
  const response = await app.http().post('/api/v1/push/subscriptions').set(user.auth).send(browser);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return { id: response.body.id, endpoint: browser.endpoint };
}

/**
 * Moves the queue's clock: the subscription's next attempt, waiting out a backoff, is due `at`
 * (now, or later). Waits for the failure to have been recorded and the retry scheduled first.
 */
async function retryAt(subscriptionId: string, at = 'now()'): Promise<void> {
  await expect
    .poll(
      async () =>
        (await db.query(`UPDATE graphile_worker._private_jobs SET run_at = ${at} WHERE key = $1 AND locked_at IS NULL AND run_at > now() RETURNING id`, [
          `push:${subscriptionId}`,
        ])).rowCount,
      { timeout: 15_000, interval: 50 },
    )
    .toBe(1);
}

const retryNow = (subscriptionId: string) => retryAt(subscriptionId);

const settle = () => new Promise((resolve) => setTimeout(resolve, 1500));

describe('Web Push', () => {
  beforeAll(async () => {
    // This suite's app sends pushes (and runs no other suite's jobs).
    app = await startApp({ JOB_QUEUE_TASKS: 'push' });
    expect((await app.http().get('/api/v1/push/vapid-public-key')).status).toBe(401);
    const key = await app.http().get('/api/v1/push/vapid-public-key').set((await newUser(app, 'browser')).auth);
    expect(key.status).toBe(200);
    expect(Buffer.from(key.body.publicKey, 'base64url')).toHaveLength(65);
    service = await PushService.start(key.body.publicKey);
  });

  afterAll(async () => {
    await app?.close();
    await service?.close();
  });

  it('pushes each message to an offline member, encrypted and VAPID-signed; not to the sender, a connected member, or a muted conversation', async () => {
    const [alice, bob, carol] = [await newUser(app, 'alice'), await newUser(app, 'bob'), await newUser(app, 'carol')];
    const [aliceSub, bobSub, carolSub] = [await subscribe(alice), await subscribe(bob), await subscribe(carol)];
    const directId = await newDirect(app, alice, bob);
    const groupId = await newGroup(app, alice, [bob, carol]);
    sockets.push(await TestSocket.connect(app.wsUrl, { token: carol.token }));

    const direct = await send(app, alice, directId, 'just us');
    await expect.poll(() => service.of(bobSub.endpoint).length, { timeout: 5000 }).toBe(1);
    const [first] = service.of(bobSub.endpoint);
    expect(first.payload).toEqual({ type: 'message.created', id: direct.id, conversationId: directId, seq: direct.seq, changeSeq: direct.changeSeq });
    expect(first.headers).toMatchObject({ urgency: 'high', topic: `c${directId}`, ttl: '86400' });
    expect(first.jwt.sub).toBe('mailto:admin@localhost');

    // One at a time: pushes still waiting together are collapsed into the newest (see below).
    const plain = await send(app, alice, groupId, 'to the group');
    await expect.poll(() => service.of(bobSub.endpoint).length, { timeout: 5000 }).toBe(2);
    const mention = await send(app, alice, groupId, `and @${bob.username} in particular`);
    await expect.poll(() => service.of(bobSub.endpoint).length, { timeout: 5000 }).toBe(3);
    expect(service.of(bobSub.endpoint).slice(1).map((push) => [push.payload.id, push.headers.urgency, push.headers.topic])).toEqual([
      [plain.id, 'normal', `c${groupId}`],
      [mention.id, 'high', `c${groupId}`],
    ]);

    // Muted: the group's messages push nothing, the direct conversation's still do.
    const muted = await app.http().patch(`/api/v1/conversations/${groupId}/settings`).set(bob.auth).send({ muted: true });
    expect(muted.status).toBe(200);
    expect(muted.body).toMatchObject({ id: groupId, muted: true });
    await send(app, alice, groupId, 'while muted');
    const after = await send(app, alice, directId, 'direct while muted');
    await expect.poll(() => service.of(bobSub.endpoint).length, { timeout: 5000 }).toBe(4);
    expect(service.of(bobSub.endpoint)[3].payload.id).toBe(after.id);
    await settle();
    expect(service.of(bobSub.endpoint)).toHaveLength(4);
    expect((await app.http().get(`/api/v1/conversations/${groupId}`).set(bob.auth)).body.muted).toBe(true);
    expect((await app.http().get(`/api/v1/conversations/${groupId}`).set(alice.auth)).body.muted).toBe(false);

    // The sender and the connected member got nothing at all.
    expect(service.of(aliceSub.endpoint)).toEqual([]);
    expect(service.of(carolSub.endpoint)).toEqual([]);
    expect(service.refused).toEqual([]);
  });

  it('collapses a burst to an offline member into the newest push of its conversation', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const directId = await newDirect(app, alice, bob);
    const bobSub = await subscribe(bob);
    // The push service is down during the burst; when it is back, one push, the newest, goes.
    service.answer = (subscription, index) => (bobSub.endpoint.endsWith(subscription) && index === 0 ? 503 : 201);
    const first = await send(app, alice, directId, 'burst 0');
    await expect.poll(() => service.of(bobSub.endpoint).length, { timeout: 5000 }).toBe(1);
    // The backoff held for the burst (a slow machine's 49 sends can outlast it).
    await retryAt(bobSub.id, `now() + interval '1 hour'`);
    let last = first;
    for (let i = 1; i < 50; i++) last = await send(app, alice, directId, `burst ${i}`);
    await retryNow(bobSub.id);
    await expect.poll(() => service.of(bobSub.endpoint).length, { timeout: 5000 }).toBe(2);
    await settle();
    expect(service.of(bobSub.endpoint).map((push) => [push.payload.id, push.answered])).toEqual([
      [first.id, 503],
      [last.id, 201],
    ]);
    service.answer = () => 201;
  });

  it('retries 429 and 5xx; removes a subscription the push service answers 404 or 410 for', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const directId = await newDirect(app, alice, bob);
    const [gone, expired, flaky] = [await subscribe(bob), await subscribe(bob), await subscribe(bob)];
    const answers = new Map([
      [gone.endpoint, [410]],
      [expired.endpoint, [404]],
      [flaky.endpoint, [429, 500, 201]],
    ]);
    service.answer = (subscription, index) => {
      const [, list] = [...answers].find(([endpoint]) => endpoint.endsWith(subscription)) ?? [undefined, [201]];
      return list[Math.min(index, list.length - 1)];
    };
    const message = await send(app, alice, directId, 'anyone there?');
    await expect.poll(() => service.of(flaky.endpoint).length, { timeout: 5000 }).toBe(1);
    await retryNow(flaky.id);
    await expect.poll(() => service.of(flaky.endpoint).length, { timeout: 5000 }).toBe(2);
    await retryNow(flaky.id);
    await expect.poll(() => service.of(flaky.endpoint).map((push) => push.answered), { timeout: 5000 }).toEqual([429, 500, 201]);
    expect(service.of(flaky.endpoint).every((push) => push.payload.id === message.id)).toBe(true);

    const remaining = async () => (await db.query(`SELECT id::text FROM push_subscriptions WHERE user_id = $1 ORDER BY id`, [bob.id])).rows.map((row) => row.id);
    await expect.poll(remaining, { timeout: 5000 }).toEqual([flaky.id]);
    expect(service.of(gone.endpoint).map((push) => push.answered)).toEqual([410]);
    expect(service.of(expired.endpoint).map((push) => push.answered)).toEqual([404]);
    expect((await app.http().delete(`/api/v1/push/subscriptions/${gone.id}`).set(bob.auth)).status).toBe(404);
    service.answer = () => 201;
  });

  it('removes a subscription whose stored keys no push can be encrypted to, instead of retrying it', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const directId = await newDirect(app, alice, bob);
    const [broken, working] = [await subscribe(bob), await subscribe(bob)];
    // Refused at subscription now (65 bytes that are no point on P-256), but one stored before that was checked stays.
    await db.query(`UPDATE push_subscriptions SET p256dh = $2 WHERE id = $1`, [broken.id, Buffer.alloc(65, 4).toString('base64url')]);
    const message = await send(app, alice, directId, 'for the working one');
    await expect.poll(() => service.of(working.endpoint).map((push) => push.payload.id), { timeout: 5000 }).toEqual([message.id]);
    const remaining = async () => (await db.query(`SELECT id::text FROM push_subscriptions WHERE user_id = $1`, [bob.id])).rows.map((row) => row.id);
    await expect.poll(remaining, { timeout: 5000 }).toEqual([working.id]);
    const jobs = await db.query(`SELECT attempts, last_error FROM graphile_worker._private_jobs WHERE key = $1`, [`push:${broken.id}`]);
    expect(jobs.rows).toEqual([]);
    expect(service.of(broken.endpoint)).toEqual([]);
  });

  it('sends what came while a run held the subscription when that run lets go, each push once', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const [firstId, secondId] = [await newDirect(app, alice, bob), await newGroup(app, alice, [bob])];
    const bobSub = await subscribe(bob);
    const letGo = service.holdAnswers(bobSub.endpoint);
    try {
      const first = await send(app, alice, firstId, 'while the push service is slow');
      await expect.poll(() => service.of(bobSub.endpoint).length, { timeout: 5000 }).toBe(1);
      // The run holding the lease waits on the push service; the run this message wakes finds the lease taken.
      const second = await send(app, alice, secondId, 'meanwhile');
      await settle();
      expect(service.of(bobSub.endpoint)).toHaveLength(1);
      letGo();
      await expect.poll(() => service.of(bobSub.endpoint).map((push) => push.payload.id), { timeout: 5000 }).toEqual([first.id, second.id]);
      await settle();
      expect(service.of(bobSub.endpoint)).toHaveLength(2);
    } finally {
      letGo();
    }
  });

  it('a subscription leased by a run elsewhere waits for the lease; once it lapses, the sweep sends its push', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const directId = await newDirect(app, alice, bob);
    const bobSub = await subscribe(bob);
    // As an instance that died with a push in flight leaves it.
    await db.query(`UPDATE push_subscriptions SET busy_until = now() + interval '1 hour' WHERE id = $1`, [bobSub.id]);
    const message = await send(app, alice, directId, 'while leased');
    await settle();
    expect(service.of(bobSub.endpoint)).toEqual([]);

    await db.query(`UPDATE push_subscriptions SET busy_until = now() - interval '1 second' WHERE id = $1`, [bobSub.id]);
    await db.query(`UPDATE push_deliveries SET created_at = now() - interval '2 minutes' WHERE subscription_id = $1`, [bobSub.id]);
    await app.app.get(PushDeliverer).wakeForgotten();
    await expect.poll(() => service.of(bobSub.endpoint).map((push) => push.payload.id), { timeout: 5000 }).toEqual([message.id]);
    // The run records the push after its answer, and lets the lease go with that record.
    await expect.poll(async () => (await db.query(`SELECT busy_until FROM push_subscriptions WHERE id = $1`, [bobSub.id])).rows[0].busy_until).toBeNull();
  });

  it('pushes a burst to twenty offline members of a group: each gets the last message, none a push twice', async () => {
    const alice = await newUser(app, 'alice');
    const members = await Promise.all(Array.from({ length: 20 }, (_, i) => newUser(app, `member${i}`)));
    const subscriptions = await Promise.all(members.map((member) => subscribe(member)));
    const groupId = await newGroup(app, alice, members);
    let last;
    for (let i = 0; i < 10; i++) last = await send(app, alice, groupId, `burst ${i}`);
    const lastOf = (endpoint: string) => service.of(endpoint).at(-1)?.payload.id;
    await expect.poll(() => subscriptions.filter((sub) => lastOf(sub.endpoint) === last!.id).length, { timeout: 10_000 }).toBe(20);
    await settle();
    for (const sub of subscriptions) {
      const ids = service.of(sub.endpoint).map((push) => push.payload.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.at(-1)).toBe(last!.id);
    }
  });

  it('a push service that does not answer holds up no other subscription, even of its shard', async () => {
    const alice = await newUser(app, 'alice');
    // Seventeen subscriptions over sixteen shards: the stuck one shares its shard with another.
    const members = await Promise.all(Array.from({ length: 17 }, (_, i) => newUser(app, `member${i}`)));
    const subscriptions = await Promise.all(members.map((member) => subscribe(member)));
    const [stuck, ...others] = subscriptions;
    const letGo = service.holdAnswers(stuck.endpoint);
    try {
      const groupId = await newGroup(app, alice, members);
      const first = await send(app, alice, groupId, 'one');
      await expect.poll(() => service.of(stuck.endpoint).length, { timeout: 5000 }).toBe(1);
      // The stuck push is still in flight (it would give up after 10 s); the others' next push goes meanwhile.
      const second = await send(app, alice, groupId, 'two');
      await expect
        .poll(() => others.filter((sub) => service.of(sub.endpoint).some((push) => push.payload.id === second.id)).length, { timeout: 5000 })
        .toBe(16);
      expect(service.of(stuck.endpoint).map((push) => push.payload.id)).toEqual([first.id]);
      letGo();
      await expect.poll(() => service.of(stuck.endpoint).map((push) => push.payload.id), { timeout: 5000 }).toEqual([first.id, second.id]);
    } finally {
      letGo();
    }
  });

  it('a subscription failing for longer than the retry window is tried once per new push, and is healthy again on a success', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const directId = await newDirect(app, alice, bob);
    const bobSub = await subscribe(bob);
    await db.query(`UPDATE push_subscriptions SET failures_in_a_row = 30, failing_since = now() - interval '26 hours' WHERE id = $1`, [bobSub.id]);
    service.answer = (subscription) => (bobSub.endpoint.endsWith(subscription) ? 503 : 201);
    const given = await send(app, alice, directId, 'to a push service that has been down for a day');
    await expect.poll(() => service.of(bobSub.endpoint).map((push) => [push.payload.id, push.answered]), { timeout: 5000 }).toEqual([[given.id, 503]]);
    // Dropped, not retried: no job of its own, nothing waiting.
    await settle();
    expect(service.of(bobSub.endpoint)).toHaveLength(1);
    const left = await db.query(
      `SELECT (SELECT count(*)::int FROM push_deliveries WHERE subscription_id = $1) AS waiting,
              (SELECT count(*)::int FROM graphile_worker._private_jobs WHERE key = 'push:' || $1) AS jobs`,
      [bobSub.id],
    );
    expect(left.rows[0]).toEqual({ waiting: 0, jobs: 0 });

    service.answer = () => 201;
    const back = await send(app, alice, directId, 'it is back');
    await expect.poll(() => service.of(bobSub.endpoint).map((push) => push.payload.id), { timeout: 5000 }).toEqual([given.id, back.id]);
    await expect
      .poll(async () => (await db.query(`SELECT failures_in_a_row, failing_since FROM push_subscriptions WHERE id = $1`, [bobSub.id])).rows[0], { timeout: 5000 })
      .toEqual({ failures_in_a_row: 0, failing_since: null });
  });

  it('gives no subscription a queue of the job queue: graphile-worker would lock its row on every job fetch, forever', async () => {
    const queues = await db.query(`SELECT count(*)::int AS n FROM graphile_worker._private_job_queues WHERE queue_name LIKE 'push:%'`);
    const pushed = await db.query(`SELECT count(*)::int AS n FROM push_subscriptions`);
    expect(pushed.rows[0].n).toBeGreaterThan(3);
    expect(queues.rows[0].n).toBe(0);
  });

  it('subscribes once per endpoint, and unsubscribes', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const directId = await newDirect(app, alice, bob);
    const browser = service.newBrowser();
    const first = await app.http().post('/api/v1/push/subscriptions').set(bob.auth).send(browser);
    const again = await app.http().post('/api/v1/push/subscriptions').set(bob.auth).send(browser);
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body).toEqual({ id: first.body.id });
    expect((await app.http().delete(`/api/v1/push/subscriptions/${first.body.id}`).set(alice.auth)).status).toBe(404);
    expect((await app.http().delete(`/api/v1/push/subscriptions/${first.body.id}`).set(bob.auth)).status).toBe(204);
    await send(app, alice, directId, 'into the void');
    await settle();
    expect(service.of(browser.endpoint)).toEqual([]);
  });
});

describe('push endpoints follow the webhook URL rules', () => {
  beforeAll(async () => {
    app = await startApp({ WEBHOOK_ALLOW_HTTP: 'false', WEBHOOK_ALLOW_PRIVATE: 'false' });
  });

  afterAll(async () => {
    await app?.close();
  });

  it.each([
    ['http://93.184.216.34/push/x', 'endpoint must be https'],
    ['https://127.0.0.1/push/x', 'non-public address (127.0.0.1)'],
    ['https://[::ffff:127.0.0.1]/push/x', 'non-public address'],
    ['https://169.254.169.254/push/x', 'non-public address'],
    ['https://localhost/push/x', 'non-public address'],
  ])('refuses %s (400)', async (endpoint, reason) => {
    const user = await newUser(app, 'user');
    const keys = { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') };
    const response = await app.http().post('/api/v1/push/subscriptions').set(user.auth).send({ endpoint, keys });
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body.message)).toContain(reason);
  });

  it('answers 503 with Retry-After when no lookup of the endpoint\'s host can start in time', async () => {
    await whileLookupsBusy(async () => {
      const user = await newUser(app, 'user');
      const keys = { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') };
      const response = await app.http().post('/api/v1/push/subscriptions').set(user.auth).send({ endpoint: 'https://push.example/x', keys });
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
    });
  });
});
