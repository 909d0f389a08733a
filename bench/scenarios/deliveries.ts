import { createECDH, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import ece from 'http_ece';
import pg from 'pg';
import { ErrorCounter, sleep, summarize, type Summary } from '../clients.js';
import { measureCpu, type CpuUse } from '../cpu.js';
import { closedLoops, rate, settleAndCheck, storedToReceive, type BenchContext, type SentMessage, type StoredToReceive } from './common.js';
import { pairSockets, type Pair } from './pairs.js';

/** One run of the K senders, with or without the bots' webhooks. */
export interface DeliveriesRun {
  label: string;
  messagesPerSecond: number;
  httpMs: Summary;
  storedToReceive: StoredToReceive;
  lost: number;
  duplicated: number;
  stray: number;
  /** Deliveries of `message.created` (webhook frames, or pushes) the receiver answered 2xx, and the rate over the measured window. */
  delivered: number;
  deliveriesPerSecond: number;
  /** Arrival at the receiver minus the message's store in PostgreSQL (its commit, near enough). */
  deliveryMs: Summary;
  /** Requests the receiver answered 500 (the failing half). */
  refused: number;
  /** After the senders stopped, how long until every message of a healthy bot had arrived (or the wait gave up). */
  drainMs: number;
  /** Messages of healthy bots that never arrived within the wait. */
  undelivered: number;
  errors: ReturnType<ErrorCounter['toJSON']>;
  deliverySamples: string[];
  /** Where the CPU went during the run (the senders' window and the drain after it). */
  cpu?: CpuUse;
  /** WAL written by the whole cluster while the senders ran, over the messages they sent. */
  walBytesPerMessage?: number;
}

/** The senders while every bot of their groups, offline, is pushed to (Web Push, encrypted and VAPID-signed). */
export interface PushesRun {
  run: DeliveriesRun;
  /** Pushes the push service had over the run, and their `Urgency`. */
  pushes: number;
  urgency: Record<string, number>;
  /** Senders' msg/s over the mean of the two runs without webhooks, as a loss in percent. */
  senderLossPercent: number;
}

/** A backlog delivered with nothing else running: what a delivery costs, in CPU. */
export interface DrainResult {
  frames: number;
  seconds: number;
  deliveriesPerSecond: number;
  /** µs of CPU per delivery: Parley, PostgreSQL, the receiver (the harness), the whole machine. */
  cpuUsPerDelivery: { server: number; postgres: number; receiver: number; machine: number };
}

/**
 * The senders with no webhook on their messages, while as many deliveries a second as with the
 * webhooks are queued apart from the sends (by SQL): what the deliveries' own work costs the
 * senders, without the enqueue in the sends' statements.
 */
export interface ApartRun {
  run: DeliveriesRun;
  queuedPerSecond: number;
  /** Deliveries the receiver had over the run (warm-up and grace included). */
  deliveredPerSecond: number;
  /** Senders' msg/s over the mean of the two runs without webhooks, as a loss in percent. */
  senderLossPercent: number;
}

/**
 * One run of the senders in which the bots' memberships are marked and unmarked (webhooks on
 * and off) every `segmentMs`, in the order off, on, on, off, off, on…: the VM's drift, which
 * moves separate runs by tens of percent over a minute, is the same within a pair seconds
 * apart. Each segment's first `settleMs` is left out, so that the backlog of one state is not
 * counted in the next.
 */
export interface AlternatedRun {
  segmentMs: number;
  settleMs: number;
  /** Senders' msg/s over the measured part of the segments without webhooks, and with. */
  withoutMessagesPerSecond: number;
  withMessagesPerSecond: number;
  /** 1 − with/without over all the segments, in percent. */
  lossPercent: number;
  /** The same for each pair of neighbouring segments (one without, one with), sorted. */
  pairLossesPercent: number[];
  lost: number;
  duplicated: number;
  stray: number;
  errors: ReturnType<ErrorCounter['toJSON']>;
  deliverySamples: string[];
}

/** The senders while half the bots' webhooks are on a server that never answers. */
export interface NeverAnsweringRun {
  run: DeliveriesRun;
  /** Requests that server took (each waited out the 10 s limit, or was cut at the end). */
  requests: number;
  /** Senders' msg/s over the mean of the two runs without webhooks, as a loss in percent. */
  senderLossPercent: number;
}

export interface DeliveriesResult {
  bots: number;
  senders: number;
  /**
   * The senders without and with the webhooks, in the order without, with, with, without, for
   * each state's latencies, deliveries and CPU. The VM's speed drifts by tens of percent over a
   * minute, even between runs of one state: the loss is judged on the switched run below.
   */
  without: DeliveriesRun;
  withWebhooks: DeliveriesRun;
  withWebhooksAgain: DeliveriesRun;
  withoutAgain: DeliveriesRun;
  /** The mean of the two runs without webhooks: what the other runs' losses are judged against. */
  withoutMessagesPerSecond: number;
  /** The webhooks switched on and off every few seconds within one run (see AlternatedRun). */
  alternated: AlternatedRun;
  drain?: DrainResult;
  apart?: ApartRun;
  halfFailing: DeliveriesRun;
  /** Then half the bots on a server that takes each request and never answers (see halfNeverAnswering). */
  halfNeverAnswering?: NeverAnsweringRun;
  /** Senders' msg/s with webhooks over without in the switched run, as a loss in percent (target: at most 20). */
  senderLossPercent: number;
  /** The same over the separate runs (each state the mean of its two). */
  separateRunsLossPercent: number;
  /** The bots' webhooks gone, each bot a member with a push subscription and no socket (offline). */
  withPushes?: PushesRun;
  cpu?: CpuUse;
}

/** Where a run's deliveries arrive: when each message's first came, by message id. */
interface Arrivals {
  readonly arrivals: Map<string, number>;
  /** Destinations (bot ids) told to answer 500. */
  readonly failing: Set<string>;
  delivered: number;
  refused: number;
  reset(): void;
}

/** The bots' receiver: records when each message's frame first arrived; answers 500 for the bots told to fail. */
class Receiver implements Arrivals {
  readonly arrivals = new Map<string, number>();
  readonly failing = new Set<string>();
  delivered = 0;
  refused = 0;
  private readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const botId = request.url!.split('/').pop()!;
        if (this.failing.has(botId)) {
          this.refused++;
          return void response.writeHead(500).end();
        }
        const frame = JSON.parse(Buffer.concat(chunks).toString());
        if (frame.type === 'message.created') {
          this.delivered++;
          if (!this.arrivals.has(frame.id)) this.arrivals.set(frame.id, performance.now());
        }
        response.writeHead(204).end();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  reset(): void {
    this.arrivals.clear();
    this.delivered = 0;
    this.refused = 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A push service on 127.0.0.1 (RFC 8030) for subscriptions that all share one browser's keys:
 * it decrypts each push (RFC 8291), as the browser would, to learn its message, and answers 201.
 */
class PushReceiver implements Arrivals {
  readonly arrivals = new Map<string, number>();
  readonly failing = new Set<string>();
  readonly browser = createECDH('prime256v1');
  readonly auth = randomBytes(16);
  delivered = 0;
  refused = 0;
  /** Pushes of the `Urgency` each header value (high: direct messages and mentions). */
  readonly urgency = new Map<string, number>();
  private readonly server: Server;

  constructor() {
    this.browser.generateKeys();
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const payload = JSON.parse(ece.decrypt(Buffer.concat(chunks), { version: 'aes128gcm', privateKey: this.browser, authSecret: this.auth.toString('base64url') }).toString());
        this.delivered++;
        const urgency = String(request.headers.urgency);
        this.urgency.set(urgency, (this.urgency.get(urgency) ?? 0) + 1);
        if (!this.arrivals.has(payload.id)) this.arrivals.set(payload.id, performance.now());
        response.writeHead(201).end();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/push`;
  }

  reset(): void {
    this.arrivals.clear();
    this.urgency.clear();
    this.delivered = 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface BotConversation {
  pair: Pair;
  botId: string;
  conversationId: string;
}

/**
 * Issue 31's deliveries phase: `botCount` bots, each in a group of its own with one of the K
 * senders and its recipient; the K senders send round-robin into their bots' groups, with no
 * webhooks, with every bot's webhook on a local receiver twice, and with none again; then with
 * half the receivers answering 500. Each message is one webhook delivery (a bot gets its own
 * group's frames).
 */
export async function deliveries(
  ctx: BenchContext,
  databaseUrl: string,
  pairs: Pair[],
  botCount: number,
  senders: number,
  serverPids: number[],
): Promise<DeliveriesResult> {
  const receiver = new Receiver();
  const url = await receiver.listen();
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const used = pairs.slice(0, senders);
    const conversations = await makeBotGroups(ctx, db, used, botCount);
    ctx.log(`deliveries: ${conversations.length} bots in groups of their own`);
    const botIds = conversations.map((c) => c.botId);
    const without = await run(ctx, db, 'without webhooks', used, conversations, receiver, false, serverPids);
    await db.query(`INSERT INTO webhooks (bot_id, url, secret) SELECT b, $2 || '/' || b, $3 FROM unnest($1::bigint[]) b`, [
      botIds,
      url,
      randomBytes(16).toString('hex'),
    ]);
    await markWebhooks(db, botIds, true);
    const withWebhooks = await run(ctx, db, 'with webhooks', used, conversations, receiver, true, serverPids);
    const withWebhooksAgain = await run(ctx, db, 'with webhooks, again', used, conversations, receiver, true, serverPids);
    // The bots keep their webhooks, but their memberships no longer queue a frame.
    await markWebhooks(db, botIds, false);
    const withoutAgain = await run(ctx, db, 'without webhooks, again', used, conversations, receiver, false, serverPids);
    await markWebhooks(db, botIds, true);
    const withoutMessagesPerSecond = (without.messagesPerSecond + withoutAgain.messagesPerSecond) / 2;
    const withMessagesPerSecond = (withWebhooks.messagesPerSecond + withWebhooksAgain.messagesPerSecond) / 2;
    const alternatedRun = await alternated(ctx, db, used, conversations);
    const drained = await drain(ctx, db, conversations, receiver, serverPids);
    const apart = await deliveriesApart(ctx, db, databaseUrl, used, conversations, receiver, serverPids, withMessagesPerSecond, withoutMessagesPerSecond);
    conversations.forEach((c, i) => i % 2 === 0 && receiver.failing.add(c.botId));
    const halfFailing = await run(ctx, db, 'half the receivers answering 500', used, conversations, receiver, true, serverPids);
    const neverAnswering = await halfNeverAnswering(ctx, db, used, conversations, receiver, serverPids, withoutMessagesPerSecond);
    // Nothing of this phase may go on retrying behind the next ones.
    await db.query(`WITH gone AS (DELETE FROM webhooks WHERE bot_id = ANY ($1::bigint[])) UPDATE conversation_members SET webhook = false WHERE user_id = ANY ($1::bigint[])`, [
      conversations.map((c) => c.botId),
    ]);
    await db.query(`DELETE FROM graphile_worker._private_jobs WHERE key LIKE 'webhook%'`);
    const withPushes = await pushes(ctx, db, used, conversations, serverPids, withoutMessagesPerSecond);
    return {
      bots: conversations.length,
      senders,
      without,
      withWebhooks,
      withWebhooksAgain,
      withoutAgain,
      withoutMessagesPerSecond,
      alternated: alternatedRun,
      drain: drained,
      apart,
      halfFailing,
      halfNeverAnswering: neverAnswering,
      senderLossPercent: alternatedRun.lossPercent,
      separateRunsLossPercent: lossPercent(withMessagesPerSecond, withoutMessagesPerSecond),
      withPushes,
    };
  } finally {
    await db.end();
    await receiver.close();
  }
}

/** Marks the bots' memberships as having a webhook (so that their messages queue a frame), or not. */
async function markWebhooks(db: pg.Client, botIds: string[], marked: boolean): Promise<void> {
  await db.query(`UPDATE conversation_members SET webhook = $2 WHERE user_id = ANY ($1::bigint[])`, [botIds, marked]);
}

/** What the senders lose at `messagesPerSecond` against their rate without webhooks, in percent. */
function lossPercent(messagesPerSecond: number, withoutMessagesPerSecond: number): number {
  return 100 * (1 - messagesPerSecond / withoutMessagesPerSecond);
}

async function walPosition(db: pg.Client): Promise<string> {
  return (await db.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`)).rows[0].lsn;
}

async function walBytesSince(db: pg.Client, start: string): Promise<number> {
  return Number((await db.query<{ bytes: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::text AS bytes`, [start])).rows[0].bytes);
}

/** Segments of the alternated run: long enough that `ALTERNATE_SETTLE_MS` is a small part. */
const ALTERNATE_SEGMENT_MS = 3000;
/** Longer than a delivery waits under load (rounds 200 ms apart): the backlog of a segment is gone by then. */
const ALTERNATE_SETTLE_MS = 1000;

/** The alternated run (see AlternatedRun); it leaves the memberships marked. */
async function alternated(ctx: BenchContext, db: pg.Client, pairs: Pair[], conversations: BotConversation[]): Promise<AlternatedRun> {
  const botIds = conversations.map((c) => c.botId);
  const segments = ctx.quick ? 4 : 16;
  const segmentOn = (index: number) => index % 4 === 1 || index % 4 === 2;
  const done = new Array<number>(segments).fill(0);
  const errors = new ErrorCounter();
  const sent: SentMessage[] = [];
  const send = botGroupSender(ctx, pairs, conversations, 'deliveries alternated', errors);
  await markWebhooks(db, botIds, false);
  const start = performance.now();
  const switching = (async () => {
    for (let segment = 0; segment < segments; segment++) {
      if (segment > 0 && segmentOn(segment) !== segmentOn(segment - 1)) await markWebhooks(db, botIds, segmentOn(segment));
      await sleep(start + (segment + 1) * ALTERNATE_SEGMENT_MS - performance.now());
    }
  })();
  await closedLoops(pairs.length, { ...ctx.timing, warmupMs: 0, measureMs: segments * ALTERNATE_SEGMENT_MS }, async (worker) => {
    const posted = await send(worker);
    if (!posted) return;
    sent.push({ id: posted.id, t0: posted.t0, sockets: [posted.target.pair.senderSocket, posted.target.pair.recipientSocket], measured: true });
    const since = posted.t1 - start;
    const index = Math.floor(since / ALTERNATE_SEGMENT_MS);
    if (index < segments && since - index * ALTERNATE_SEGMENT_MS >= ALTERNATE_SETTLE_MS) done[index]++;
  });
  await switching;
  await markWebhooks(db, botIds, true);
  const delivery = await settleAndCheck(sent, pairSockets(pairs), ctx.timing.graceMs);
  // The next step counts its own deliveries: wait for this one's backlog to go.
  const drainStart = performance.now();
  while (performance.now() - drainStart < 30_000 && Number((await db.query(`SELECT count(*) FROM webhook_deliveries`)).rows[0].count) > 0) await sleep(100);

  const measuredSeconds = (ALTERNATE_SEGMENT_MS - ALTERNATE_SETTLE_MS) / 1000;
  const perSecond = (on: boolean) => {
    const counts = done.filter((_, index) => segmentOn(index) === on);
    return counts.reduce((sum, count) => sum + count, 0) / (counts.length * measuredSeconds);
  };
  const pairLosses: number[] = [];
  for (let index = 0; index + 1 < segments; index += 2) {
    const [off, on] = segmentOn(index) ? [done[index + 1], done[index]] : [done[index], done[index + 1]];
    pairLosses.push(lossPercent(on, off));
  }
  const result: AlternatedRun = {
    segmentMs: ALTERNATE_SEGMENT_MS,
    settleMs: ALTERNATE_SETTLE_MS,
    withoutMessagesPerSecond: perSecond(false),
    withMessagesPerSecond: perSecond(true),
    lossPercent: lossPercent(perSecond(true), perSecond(false)),
    pairLossesPercent: pairLosses.sort((a, b) => a - b),
    lost: delivery.lost,
    duplicated: delivery.duplicated,
    stray: delivery.stray,
    errors: errors.toJSON(),
    deliverySamples: delivery.samples,
  };
  ctx.log(
    `deliveries, alternated every ${ALTERNATE_SEGMENT_MS / 1000} s: ${Math.round(result.withoutMessagesPerSecond)} → ${Math.round(result.withMessagesPerSecond)} msg/s, ` +
      `senders lose ${result.lossPercent.toFixed(1)}% (pairs ${result.pairLossesPercent.map((loss) => loss.toFixed(0)).join(', ')})`,
  );
  return result;
}

/** Frames of the drain: enough for several seconds of deliveries, spread over every bot. */
const DRAIN_FRAMES = 20_000;

/**
 * Writes a backlog of frames for every bot by SQL, wakes the jobs, and measures the CPU used
 * until the receiver has them all: what a delivery costs when nothing else runs. Bots get about
 * twenty frames each, so the reads and records are batched as a busy installation's would be.
 */
async function drain(ctx: BenchContext, db: pg.Client, conversations: BotConversation[], receiver: Receiver, serverPids: number[]): Promise<DrainResult> {
  receiver.reset();
  const botIds = conversations.map((c) => c.botId);
  await db.query(
    `INSERT INTO webhook_deliveries (bot_id, frame)
     SELECT ($1::bigint[])[1 + g % cardinality($1::bigint[])],
            json_build_object('type', 'message.created', 'id', 'drain-' || g, 'conversationId', '1', 'seq', g, 'changeSeq', g)
       FROM generate_series(1, $2::int) g`,
    [botIds, DRAIN_FRAMES],
  );
  const cpuEnd = measureCpu(serverPids);
  const start = performance.now();
  await db.query(`SELECT wake_jobs('webhook-shard', ARRAY(SELECT DISTINCT webhook_shard(b)::text FROM unnest($1::bigint[]) b)), pg_notify('jobs:insert', '{"count": 16}')`, [botIds]);
  while (receiver.delivered < DRAIN_FRAMES && performance.now() - start < 120_000) await sleep(20);
  const seconds = (performance.now() - start) / 1000;
  const cpu = cpuEnd();
  const perDelivery = (cores: number | undefined) => Math.round(((cores ?? 0) * seconds * 1e6) / Math.max(1, receiver.delivered));
  const result: DrainResult = {
    frames: receiver.delivered,
    seconds,
    deliveriesPerSecond: receiver.delivered / seconds,
    cpuUsPerDelivery: { server: perDelivery(cpu?.server), postgres: perDelivery(cpu?.postgres), receiver: perDelivery(cpu?.harness), machine: perDelivery(cpu?.machine) },
  };
  ctx.log(`deliveries, drain: ${result.frames} frames in ${seconds.toFixed(1)} s; µs of CPU per delivery ${JSON.stringify(result.cpuUsPerDelivery)}`);
  return result;
}

/**
 * Every bot gets a push subscription on a local push service (by SQL, as the webhooks were set),
 * and the K senders send as before: each message is a push to its group's bot, which has no
 * socket. Afterwards the subscriptions and their jobs go.
 */
async function pushes(ctx: BenchContext, db: pg.Client, pairs: Pair[], conversations: BotConversation[], serverPids: number[], withoutMessagesPerSecond: number): Promise<PushesRun> {
  const service = new PushReceiver();
  const url = await service.listen();
  const botIds = conversations.map((c) => c.botId);
  await db.query(
    `WITH subscribed AS (
       INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) SELECT b, $2 || '/' || b, $3, $4 FROM unnest($1::bigint[]) b
     ) UPDATE conversation_members SET push = true WHERE user_id = ANY ($1::bigint[]) AND NOT muted`,
    [botIds, url, service.browser.getPublicKey().toString('base64url'), service.auth.toString('base64url')],
  );
  try {
    const result = await run(ctx, db, 'with pushes to offline members', pairs, conversations, service, true, serverPids, true);
    const pushesRun: PushesRun = {
      run: result,
      pushes: service.delivered,
      urgency: Object.fromEntries(service.urgency),
      senderLossPercent: lossPercent(result.messagesPerSecond, withoutMessagesPerSecond),
    };
    ctx.log(`deliveries, pushes: ${service.delivered} pushes (${JSON.stringify(pushesRun.urgency)}); senders lose ${pushesRun.senderLossPercent.toFixed(1)}%`);
    return pushesRun;
  } finally {
    await db.query(`WITH gone AS (DELETE FROM push_subscriptions WHERE user_id = ANY ($1::bigint[])) UPDATE conversation_members SET push = false WHERE user_id = ANY ($1::bigint[])`, [botIds]);
    await db.query(`DELETE FROM graphile_worker._private_jobs WHERE key LIKE 'push%'`);
    await service.close();
  }
}

/**
 * The K senders with the bots' memberships unmarked (so their messages queue no frame), while a
 * client of its own queues `perSecond` frames a second for the bots, spread over them, and wakes
 * their shards, as the sends' trigger would.
 */
async function deliveriesApart(
  ctx: BenchContext,
  db: pg.Client,
  databaseUrl: string,
  pairs: Pair[],
  conversations: BotConversation[],
  receiver: Receiver,
  serverPids: number[],
  perSecond: number,
  withoutMessagesPerSecond: number,
): Promise<ApartRun> {
  const botIds = conversations.map((c) => c.botId);
  await markWebhooks(db, botIds, false);
  const feeder = new pg.Client({ connectionString: databaseUrl });
  await feeder.connect();
  let queued = 0;
  let feeding = true;
  const started = performance.now();
  const feeding$ = (async () => {
    while (feeding) {
      const due = Math.floor(((performance.now() - started) / 1000) * perSecond) - queued;
      if (due > 0) {
        await feeder.query(
          `WITH queued AS (
             INSERT INTO webhook_deliveries (bot_id, frame)
             SELECT ($1::bigint[])[1 + ($3::int + g) % cardinality($1::bigint[])],
                    json_build_object('type', 'message.created', 'id', 'apart-' || ($3::int + g), 'conversationId', '1', 'seq', g, 'changeSeq', g)
               FROM generate_series(1, $2::int) g
             RETURNING bot_id
           ) SELECT wake_jobs('webhook-shard', array_agg(DISTINCT webhook_shard(bot_id)::text)), pg_notify('jobs:insert', '{"count": 4}') FROM queued`,
          [botIds, due, queued],
        );
        queued += due;
      }
      await sleep(10);
    }
  })();
  try {
    const run0 = performance.now();
    const result = await run(ctx, db, 'the same deliveries queued apart from the sends', pairs, conversations, receiver, false, serverPids);
    const seconds = (performance.now() - run0) / 1000;
    const apart: ApartRun = {
      run: result,
      queuedPerSecond: queued / ((performance.now() - started) / 1000),
      deliveredPerSecond: receiver.delivered / seconds,
      senderLossPercent: lossPercent(result.messagesPerSecond, withoutMessagesPerSecond),
    };
    ctx.log(`deliveries apart from the sends: ${Math.round(apart.deliveredPerSecond)} deliveries/s; senders lose ${apart.senderLossPercent.toFixed(1)}%`);
    return apart;
  } finally {
    feeding = false;
    await feeding$;
    await feeder.end();
    await markWebhooks(db, botIds, true);
  }
}

/**
 * The bots that answered 500 (`receiver.failing`), made healthy again with nothing waiting, get
 * webhooks on a server of their own that takes each request and never answers: each delivery
 * to them waits out the 10 s limit, then goes to the retry lane. A server of their own, as a
 * bot's would be: deliveries to one host share its connections (at most 16), so this shows
 * what slow destinations do to the senders and to the other destinations' deliveries.
 */
async function halfNeverAnswering(
  ctx: BenchContext,
  db: pg.Client,
  pairs: Pair[],
  conversations: BotConversation[],
  receiver: Receiver,
  serverPids: number[],
  withoutMessagesPerSecond: number,
): Promise<NeverAnsweringRun> {
  let requests = 0;
  const silent = createServer(() => void requests++);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/hook`;
  const silentBots = [...receiver.failing];
  await db.query(`DELETE FROM graphile_worker._private_jobs WHERE key = ANY (ARRAY(SELECT 'webhook:' || b FROM unnest($1::text[]) b))`, [silentBots]);
  await db.query(
    `WITH dropped AS (DELETE FROM webhook_deliveries WHERE bot_id = ANY ($1::bigint[]))
     UPDATE webhooks SET url = $2 || '/' || bot_id, retrying = false, busy_until = NULL, failures_in_a_row = 0, failing_since = NULL
      WHERE bot_id = ANY ($1::bigint[])`,
    [silentBots, url],
  );
  try {
    const result = await run(ctx, db, 'half the receivers never answering', pairs, conversations, receiver, true, serverPids);
    const neverAnswering = { run: result, requests, senderLossPercent: lossPercent(result.messagesPerSecond, withoutMessagesPerSecond) };
    ctx.log(`deliveries, never answering: ${requests} requests held; senders lose ${neverAnswering.senderLossPercent.toFixed(1)}%`);
    return neverAnswering;
  } finally {
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  }
}

/** The bots (by SQL, as the users are seeded) and their groups (through the API, as a client makes them). */
async function makeBotGroups(ctx: BenchContext, db: pg.Client, pairs: Pair[], botCount: number): Promise<BotConversation[]> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO users (username, display_name, password_hash, bot, owner_id)
     SELECT 'bench_bot_' || g || '_' || $3, 'Bench bot ' || g, '!bot', true, $2 FROM generate_series(1, $1::int) g
     RETURNING id::text`,
    [botCount, pairs[0].sender.id, randomBytes(3).toString('hex')],
  );
  const errors = new ErrorCounter();
  const made: (BotConversation | undefined)[] = new Array(rows.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = next++; i < rows.length; i = next++) {
        const pair = pairs[i % pairs.length];
        const result = await ctx.http.request('POST', '/api/v1/conversations', pair.sender.token, {
          type: 'group',
          title: `bot ${i}`,
          memberIds: [pair.recipient.id, rows[i].id],
        });
        if (errors.check('POST /api/v1/conversations', result)) made[i] = { pair, botId: rows[i].id, conversationId: String(result.body.id) };
      }
    }),
  );
  if (errors.total > 0) throw new Error(`could not make the bots' groups: ${errors.samples.join('; ')}`);
  // The groups' creation frames are not the runs'.
  await sleep(500);
  for (const socket of pairSockets(pairs)) socket.reset();
  return made as BotConversation[];
}

/**
 * The senders' POST in the deliveries' closed loops: each sender posts into its bots' groups in
 * turn. Undefined after an error (counted, then a short pause).
 */
function botGroupSender(ctx: BenchContext, pairs: Pair[], conversations: BotConversation[], body: string, errors: ErrorCounter) {
  const bySender = pairs.map((pair) => conversations.filter((c) => c.pair === pair));
  const turn = pairs.map(() => 0);
  return async (worker: number): Promise<{ target: BotConversation; id: string; t0: number; t1: number } | undefined> => {
    const mine = bySender[worker];
    const target = mine[turn[worker]++ % mine.length];
    const t0 = performance.now();
    const result = await ctx.http.request('POST', '/api/v1/messages', target.pair.sender.token, { conversationId: target.conversationId, body });
    const t1 = performance.now();
    if (!errors.check('POST /api/v1/messages', result)) return void (await sleep(10));
    return { target, id: String(result.body.id), t0, t1 };
  };
}

async function run(
  ctx: BenchContext,
  db: pg.Client,
  label: string,
  pairs: Pair[],
  conversations: BotConversation[],
  receiver: Arrivals,
  delivering: boolean,
  serverPids: number[],
  collapsed = false,
): Promise<DeliveriesRun> {
  receiver.reset();
  const cpuEnd = measureCpu(serverPids);
  const walStart = await walPosition(db);
  const errors = new ErrorCounter();
  const sent: SentMessage[] = [];
  const http: number[] = [];
  const botOf = new Map<string, string>();
  let ok = 0;
  const send = botGroupSender(ctx, pairs, conversations, `deliveries ${label}`, errors);
  const window = await closedLoops(pairs.length, ctx.timing, async (worker, w) => {
    const posted = await send(worker);
    if (!posted) return;
    const { target, id, t0, t1 } = posted;
    const measured = t0 >= w.measureStart;
    sent.push({ id, t0, sockets: [target.pair.senderSocket, target.pair.recipientSocket], measured });
    botOf.set(id, target.botId);
    if (measured && t1 <= w.end) {
      ok++;
      http.push(t1 - t0);
    }
  });
  const walBytes = await walBytesSince(db, walStart);
  const delivery = await settleAndCheck(sent, pairSockets(pairs), ctx.timing.graceMs);
  const cpu = cpuEnd();
  const stored = await storedToReceive(ctx, delivery);

  // The healthy bots' deliveries: wait for the backlog to drain (at most 30 s), then measure.
  // Pushes waiting together are collapsed into their conversation's newest: only each bot's
  // last message must arrive then.
  const healthy = delivering ? sent.filter((message) => !receiver.failing.has(botOf.get(message.id)!)) : [];
  const expected = collapsed ? [...new Map(healthy.map((message) => [botOf.get(message.id), message])).values()] : healthy;
  const drainStart = performance.now();
  while (expected.some((message) => !receiver.arrivals.has(message.id)) && performance.now() - drainStart < 30_000) await sleep(50);
  const drainMs = performance.now() - drainStart;
  const storedAt = await ctx.storeClock.storedAt(healthy.map((message) => message.id));
  const deliveryMs: number[] = [];
  let inWindow = 0;
  for (const message of healthy) {
    const arrived = receiver.arrivals.get(message.id);
    const at = storedAt.get(message.id);
    if (arrived === undefined || at === undefined) continue;
    if (message.measured) deliveryMs.push(arrived - at);
    if (arrived >= window.measureStart && arrived <= window.end) inWindow++;
  }
  const result: DeliveriesRun = {
    label,
    messagesPerSecond: rate(ok, ctx.timing.measureMs),
    httpMs: summarize(http),
    storedToReceive: stored,
    lost: delivery.lost,
    duplicated: delivery.duplicated,
    stray: delivery.stray,
    delivered: receiver.delivered,
    deliveriesPerSecond: rate(inWindow, ctx.timing.measureMs),
    deliveryMs: summarize(deliveryMs),
    refused: receiver.refused,
    drainMs,
    undelivered: expected.filter((message) => !receiver.arrivals.has(message.id)).length,
    errors: errors.toJSON(),
    deliverySamples: delivery.samples,
    cpu,
    walBytesPerMessage: sent.length > 0 ? walBytes / sent.length : 0,
  };
  ctx.log(
    `deliveries, ${label}: ${Math.round(result.messagesPerSecond)} msg/s, notification p99 ${stored.ms.p99.toFixed(1)} ms; ` +
      `${Math.round(result.deliveriesPerSecond)} deliveries/s, from commit p50 ${result.deliveryMs.p50.toFixed(1)} p99 ${result.deliveryMs.p99.toFixed(1)} ms, ` +
      `${result.refused} answered 500, ${result.undelivered} undelivered after ${Math.round(drainMs)} ms`,
  );
  return result;
}
