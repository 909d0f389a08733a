import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { ErrorCounter, sleep, summarize, type Summary } from '../clients.js';
import { measureCpu, type CpuUse } from '../cpu.js';
import { scrapeMetrics, type BenchUser, type MetricsSample, type ServerInstance } from '../server.js';
import type { BenchContext } from './common.js';
import type { Pair } from './pairs.js';
import { throughput, type ThroughputResult } from './throughput.js';
import { random } from '../random.js';

/**
 * Issue 30's live-signals load: connected users in conversations of 2–50, a tenth of them
 * typing (one frame every `TYPING_EVERY_MS` each), and a hundredth of them connecting or
 * disconnecting each second; meanwhile a K=16 sender runs as in the throughput phase, and its
 * notification p99 is compared with the same run just before, without the load.
 */

/** A little over the server's 2 s pass-on limit, so that every frame a typer sends is passed on. */
const TYPING_EVERY_MS = 2100;
const TYPERS_SHARE = 0.1;
const CHURN_SHARE_PER_SECOND = 0.01;
/**
 * Users disconnected at any time: a disconnected user stays away about this share over the
 * churn rate (10 s at 1%/s), so that it is away past the 10 s grace and its going and coming
 * are announced, not absorbed as a reload would be.
 */
const AWAY_SHARE = 0.1;
const MIN_SIZE = 2;
const MAX_SIZE = 50;
/** Source addresses of their own: the connections phase, a minute later, uses 127.0.0.1–4. */
const SOURCE_ADDRESSES = ['127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8'];
const CONNECT_CONCURRENCY = 200;
/** The window in which the load alone is measured: about as long as a sender run. */
const LOAD_WINDOW_MS = 12_000;

export interface LiveSignalsResult {
  users: number;
  conversations: number;
  conversationSize: { min: number; mean: number; max: number };
  instances: number;
  typers: number;
  typingEveryMs: number;
  churnPerSecond: number;
  /** Users away at any time (see AWAY_SHARE). */
  away: number;
  /** The measured window: the load alone, before the K=16 sender joins it. */
  measuredMs: number;
  typingSent: number;
  typingReceived: number;
  /** Typing frame arrival minus the sender's frame, ms (one clock: the harness's), in the window. */
  typingMs: Summary;
  /** The same while the closed-loop K=16 sender ran under the load, which saturates the machine. */
  typingWithSendersMs?: Summary;
  presenceReceived: number;
  framesDeliveredPerSecond: number;
  /** From the servers' /metrics, summed: changes announced, signals passed on and dropped. */
  presenceAnnouncementsPerSecond?: number;
  typingPassedPerSecond?: number;
  typingLimited?: number;
  /**
   * How late each event loop ran what was due, over the load-alone window, p99 and max in ms:
   * each server's (its /metrics) and the harness's own. A typing frame's measured delivery
   * holds both: the harness stamps it when its loop gets to it.
   */
  eventLoopDelayMs?: { servers: { p99: number; max: number }[]; harness: { p99: number; max: number } };
  /** INFO stats total_commands_processed, over the window (only with Redis; everything on it counts). */
  redisCommandsPerSecond?: number;
  connects: number;
  disconnects: number;
  /** Frames for a conversation, or of a user, the receiver does not share. */
  stray: number;
  /** The K=16 sender without the load, then with it. */
  baseline?: ThroughputResult;
  underLoad?: ThroughputResult;
  /** Its POST start→receive p99 under the load over without. */
  p99Ratio?: number;
  errors: ReturnType<ErrorCounter['toJSON']>;
  samples: string[];
  cpu?: CpuUse;
  /** Where the CPU went in each measured window: what the sender and the load each take alone, and together. */
  windowCpu?: { senderAlone?: CpuUse; loadAlone?: CpuUse; both?: CpuUse };
}

/** What the harness's sockets saw, and what they should have. */
class Signals {
  readonly lastTyping = new Map<string, number>();
  /** Latencies of typing frames sent in the current window, when one is open. */
  window?: { from: number; typingMs: number[] };
  typingReceived = 0;
  presenceReceived = 0;
  stray = 0;
  readonly samples: string[] = [];

  constructor(private readonly conversationOf: Map<string, string>) {}

  receive(receiverId: string, data: string, at: number): void {
    if (data.startsWith('{"type":"typing"')) {
      const frame = JSON.parse(data) as { conversationId: string; userId: string };
      this.typingReceived++;
      const sentAt = this.lastTyping.get(`${frame.conversationId}:${frame.userId}`);
      if (this.conversationOf.get(receiverId) !== frame.conversationId || sentAt === undefined) {
        return this.strayFrame(`user ${receiverId} got typing of user ${frame.userId} in conversation ${frame.conversationId}`);
      }
      if (this.window && sentAt >= this.window.from) this.window.typingMs.push(at - sentAt);
    } else if (data.startsWith('{"type":"presence"')) {
      const frame = JSON.parse(data) as { userId: string };
      this.presenceReceived++;
      if (this.conversationOf.get(receiverId) !== this.conversationOf.get(frame.userId)) {
        this.strayFrame(`user ${receiverId} got the presence of user ${frame.userId}, who shares no conversation with it`);
      }
    }
  }

  private strayFrame(sample: string): void {
    this.stray++;
    if (this.samples.length < 5) this.samples.push(`stray: ${sample}`);
  }
}

/** Opens a socket that hands typing and presence frames to `signals`; resolves at `ready`. */
function openSignalSocket(user: BenchUser, url: string, localAddress: string, signals: Signals): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${user.token}` }, perMessageDeflate: false, localAddress });
  return new Promise((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => fail(new Error('no ready frame within 30 s')), 30_000);
    const fail = (error: Error) => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      ws.terminate();
      reject(error);
    };
    ws.on('message', (data) => {
      const text = String(data);
      if (!ready) {
        if (!text.includes('"ready"')) return;
        ready = true;
        clearTimeout(timer);
        return resolve(ws);
      }
      signals.receive(user.id, text, performance.now());
    });
    ws.once('unexpected-response', (_request, response) => fail(new Error(`handshake refused: HTTP ${response.statusCode}`)));
    ws.on('error', (error) => fail(error));
    ws.on('close', (code) => fail(new Error(`closed with ${code} before ready`)));
  });
}

/** Runs `task` over `items` with at most `concurrency` at once. */
async function eachLimited<T>(items: T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await task(items[index], index);
      }
    }),
  );
}

async function redisCommands(redis: Redis | undefined): Promise<number | undefined> {
  if (!redis) return undefined;
  const info = await redis.info('stats');
  const match = /total_commands_processed:(\d+)/.exec(info);
  return match ? Number(match[1]) : undefined;
}

async function scrapeAll(servers: ServerInstance[]): Promise<MetricsSample[]> {
  return Promise.all(servers.map((server) => scrapeMetrics(server)));
}

export async function liveSignals(
  ctx: BenchContext,
  users: BenchUser[],
  pairs: Pair[],
  options: { servers: ServerInstance[]; redisUrl?: string; senders: number },
): Promise<LiveSignalsResult> {
  const errors = new ErrorCounter();
  const next = random(30);

  // Conversations of 2–50 through the API: a direct one for two, a group for more.
  const groups: BenchUser[][] = [];
  for (let at = 0; at < users.length; ) {
    const size = Math.min(users.length - at, MIN_SIZE + Math.floor(next() * (MAX_SIZE - MIN_SIZE + 1)));
    if (size < MIN_SIZE) {
      groups[groups.length - 1].push(...users.slice(at));
      break;
    }
    groups.push(users.slice(at, at + size));
    at += size;
  }
  const conversationOf = new Map<string, string>();
  await eachLimited(groups, 32, async (members, i) => {
    const [owner, ...others] = members;
    const body =
      members.length === 2
        ? { type: 'direct', userId: others[0].id }
        : { type: 'group', title: `bench signals ${i}`, memberIds: others.map((user) => user.id) };
    const created = await ctx.http.request('POST', '/api/v1/conversations', owner.token, body);
    if (!errors.check('POST /api/v1/conversations', created)) return;
    for (const member of members) conversationOf.set(member.id, String(created.body.id));
  });
  if (errors.total > 0) throw new Error(`could not create the conversations: ${errors.samples.join('; ')}`);
  ctx.log(`live signals: ${groups.length} conversations of ${MIN_SIZE}–${MAX_SIZE} created for ${users.length} users`);

  // A tenth type; of the others, a tenth are away at any time and the churn swaps them.
  const order = users.map((user) => ({ user, key: next() })).sort((a, b) => a.key - b.key).map(({ user }) => user);
  const typers = order.slice(0, Math.round(users.length * TYPERS_SHARE));
  const churners = order.slice(typers.length);
  const awayCount = Math.round(users.length * AWAY_SHARE);
  const away: BenchUser[] = churners.slice(0, awayCount);
  const present: BenchUser[] = churners.slice(awayCount);
  const signals = new Signals(conversationOf);
  const sockets = new Map<string, WebSocket>();
  const urlFor = (index: number) => options.servers[index % options.servers.length].wsUrl;
  const indexOf = new Map(users.map((user, i) => [user.id, i]));
  let connects = 0;
  let disconnects = 0;
  const connect = async (user: BenchUser) => {
    const index = indexOf.get(user.id)!;
    try {
      sockets.set(user.id, await openSignalSocket(user, urlFor(index), SOURCE_ADDRESSES[index % SOURCE_ADDRESSES.length], signals));
      connects++;
    } catch (error) {
      errors.add('connect', (error as Error).message);
    }
  };
  const started = performance.now();
  await eachLimited([...typers, ...present], CONNECT_CONCURRENCY, (user) => connect(user));
  ctx.log(`live signals: ${sockets.size} sockets open in ${Math.round(performance.now() - started)} ms; waiting for the presence announcements to settle`);
  await sleep(ctx.quick ? 3000 : 12_000);

  const result: LiveSignalsResult = {
    users: users.length,
    conversations: groups.length,
    conversationSize: {
      min: Math.min(...groups.map((group) => group.length)),
      mean: users.length / groups.length,
      max: Math.max(...groups.map((group) => group.length)),
    },
    instances: options.servers.length,
    typers: typers.length,
    typingEveryMs: TYPING_EVERY_MS,
    churnPerSecond: Math.round(users.length * CHURN_SHARE_PER_SECOND),
    away: awayCount,
    measuredMs: 0,
    typingSent: 0,
    typingReceived: 0,
    typingMs: summarize([]),
    presenceReceived: 0,
    framesDeliveredPerSecond: 0,
    connects: 0,
    disconnects: 0,
    stray: 0,
    errors: errors.toJSON(),
    samples: [],
  };

  // The K=16 sender alone, with every signal socket connected and quiet.
  const serverPids = options.servers.map((server) => server.pid);
  result.windowCpu = {};
  let cpuEnd = measureCpu(serverPids);
  result.baseline = await throughput(ctx, pairs, options.senders);
  result.windowCpu.senderAlone = cpuEnd();
  ctx.log(`live signals: K=${options.senders} without the load, notification p99 ${result.baseline.notificationMs.p99.toFixed(1)} ms`);

  // The load: typers on a fixed schedule, churn in ticks of 100 ms.
  let running = true;
  let typingSent = 0;
  const loadStart = performance.now();
  const offsets = typers.map(() => next() * TYPING_EVERY_MS);
  const byOffset = typers.map((user, i) => ({ user, offset: offsets[i] })).sort((a, b) => a.offset - b.offset);
  const typing = (async () => {
    let i = 0;
    let cycle = 0;
    while (running) {
      const now = performance.now();
      while (byOffset.length > 0 && loadStart + cycle * TYPING_EVERY_MS + byOffset[i].offset <= now) {
        const { user } = byOffset[i];
        const ws = sockets.get(user.id);
        const conversationId = conversationOf.get(user.id)!;
        if (ws?.readyState === WebSocket.OPEN) {
          signals.lastTyping.set(`${conversationId}:${user.id}`, performance.now());
          ws.send(`{"type":"typing","conversationId":"${conversationId}"}`);
          typingSent++;
        }
        if (++i === byOffset.length) {
          i = 0;
          cycle++;
        }
      }
      await sleep(5);
    }
  })();
  const perTick = (users.length * CHURN_SHARE_PER_SECOND) / 2 / 10;
  let owed = 0;
  const pending = new Set<Promise<void>>();
  const churn = (async () => {
    while (running) {
      owed += perTick;
      for (; owed >= 1; owed--) {
        if (present.length > 0) {
          const leaving = present.splice(Math.floor(next() * present.length), 1)[0];
          sockets.get(leaving.id)?.close();
          sockets.delete(leaving.id);
          disconnects++;
          away.push(leaving);
        }
        if (away.length > 0) {
          // The one away longest comes back: each stays away about as long as the others.
          const coming = away.shift()!;
          const connecting = connect(coming).then(() => void present.push(coming));
          pending.add(connecting);
          void connecting.finally(() => pending.delete(connecting));
        }
      }
      await sleep(100);
    }
  })();

  // Long enough for churned users to pass their grace, so both kinds of change are announced.
  await sleep(ctx.quick ? 5000 : 12_000);
  const redis = options.redisUrl ? new Redis(options.redisUrl, { lazyConnect: false }) : undefined;
  try {
    // The load alone, measured over about as long as a sender run lasts.
    const before = { at: performance.now(), metrics: await scrapeAll(options.servers), redis: await redisCommands(redis) };
    const counts = { typing: signals.typingReceived, presence: signals.presenceReceived, sent: typingSent, connects, disconnects };
    signals.window = { from: before.at, typingMs: [] };
    cpuEnd = measureCpu(serverPids);
    const harnessDelay = monitorEventLoopDelay({ resolution: 10 });
    harnessDelay.enable();
    await sleep(ctx.quick ? 5000 : LOAD_WINDOW_MS);
    harnessDelay.disable();
    result.windowCpu.loadAlone = cpuEnd();
    const after = { at: performance.now(), metrics: await scrapeAll(options.servers), redis: await redisCommands(redis) };
    if (after.metrics.some((sample) => sample.present)) {
      result.eventLoopDelayMs = {
        servers: after.metrics.map((sample) => ({ p99: sample.eventLoopDelayP99Ms, max: sample.eventLoopDelayMaxMs })),
        harness: { p99: harnessDelay.percentile(99) / 1e6, max: harnessDelay.max / 1e6 },
      };
    }
    const typingMs = signals.window.typingMs;
    const seconds = (after.at - before.at) / 1000;
    const delta = (key: 'presenceAnnouncements' | 'typingPassed' | 'typingLimited') =>
      after.metrics.reduce((sum, sample) => sum + sample[key], 0) - before.metrics.reduce((sum, sample) => sum + sample[key], 0);
    result.measuredMs = after.at - before.at;
    result.typingSent = typingSent - counts.sent;
    result.typingReceived = signals.typingReceived - counts.typing;
    result.presenceReceived = signals.presenceReceived - counts.presence;
    result.framesDeliveredPerSecond = (result.typingReceived + result.presenceReceived) / seconds;
    result.typingMs = summarize(typingMs);
    if (after.metrics.some((sample) => sample.present)) {
      result.presenceAnnouncementsPerSecond = delta('presenceAnnouncements') / seconds;
      result.typingPassedPerSecond = delta('typingPassed') / seconds;
      result.typingLimited = delta('typingLimited');
    }
    if (before.redis !== undefined && after.redis !== undefined) result.redisCommandsPerSecond = (after.redis - before.redis) / seconds;
    result.connects = connects - counts.connects;
    result.disconnects = disconnects - counts.disconnects;

    // Then the K=16 sender joins the load: what the load costs it, and what it costs typing.
    signals.window = { from: performance.now(), typingMs: [] };
    cpuEnd = measureCpu(serverPids);
    result.underLoad = await throughput(ctx, pairs, options.senders);
    result.windowCpu.both = cpuEnd();
    result.typingWithSendersMs = summarize(signals.window.typingMs);
    signals.window = undefined;
    const baselineP99 = result.baseline.notificationMs.p99;
    result.p99Ratio = baselineP99 > 0 ? result.underLoad.notificationMs.p99 / baselineP99 : undefined;
  } finally {
    running = false;
    await Promise.all([typing, churn, ...pending]);
    redis?.disconnect();
    for (const ws of sockets.values()) ws.terminate();
    await sleep(1000);
  }
  result.stray = signals.stray;
  result.samples = signals.samples;
  result.errors = errors.toJSON();
  return result;
}
