import { performance } from 'node:perf_hooks';
import type { BenchSocket, HttpClient } from '../clients.js';
import { sleep, summarize, type Summary } from '../clients.js';
import type { ServerInstance } from '../server.js';
import type { StoreClock } from '../store-clock.js';

/** What every scenario gets from the orchestrator. */
export interface BenchContext {
  quick: boolean;
  /** Where requests go (instance A). */
  api: ServerInstance;
  /** Where senders' sockets connect (A). */
  senderWs: ServerInstance;
  /** Where recipients' and group members' sockets connect (B with --instances 2, else A). */
  recipientWs: ServerInstance;
  /** Load-generation HTTP client for `api`. */
  http: HttpClient;
  /** When PostgreSQL stored a message, on the harness's clock. */
  storeClock: StoreClock;
  timing: Timing;
  log: (line: string) => void;
}

export interface Timing {
  warmupMs: number;
  measureMs: number;
  /** How long to wait after a phase for notifications still on their way. */
  graceMs: number;
  /** A phase that runs longer than its duration plus this is stopped and reported as errored. */
  hardCapExtraMs: number;
}

/** Each measured phase's timing in a full run (`npm run bench`, and each round of `bench:paired`). */
export const FULL_TIMING: Timing = { warmupMs: 2000, measureMs: 10_000, graceMs: 5000, hardCapExtraMs: 30_000 };
/** The same in quick mode. */
export const QUICK_TIMING: Timing = { warmupMs: 1000, measureMs: 3000, graceMs: 3000, hardCapExtraMs: 20_000 };

/** One sent message and the sockets that must each receive its frame exactly once. */
export interface SentMessage {
  id: string;
  /** When its POST was started (performance.now()). */
  t0: number;
  sockets: BenchSocket[];
  /** Started after the warm-up: its latencies count. */
  measured: boolean;
}

export interface DeliveryResult {
  expected: number;
  lost: number;
  duplicated: number;
  /** Frames for ids a socket was not expecting (a wrong conversation, or a late copy). */
  stray: number;
  /** Arrival minus POST start, ms, for every measured (message, socket). */
  latencies: number[];
  /** Per measured message: its last socket's arrival minus POST start, ms. */
  lastArrival: number[];
  /** Every measured (message, socket) arrival, performance.now(). */
  arrivals: Array<{ id: string; at: number }>;
  samples: string[];
}

/**
 * Waits (at most `graceMs`) until every socket has every expected frame, then a little longer
 * to catch duplicates, then counts. Afterwards every socket is reset for the next phase.
 */
export async function settleAndCheck(messages: SentMessage[], allSockets: BenchSocket[], graceMs: number): Promise<DeliveryResult> {
  const deadline = performance.now() + graceMs;
  let pending = messages;
  for (;;) {
    pending = pending.filter((message) => message.sockets.some((socket) => !socket.seen.has(message.id)));
    if (pending.length === 0 || performance.now() >= deadline) break;
    await sleep(20);
  }
  await sleep(pending.length === 0 ? 100 : 0);

  const result: DeliveryResult = { expected: 0, lost: 0, duplicated: 0, stray: 0, latencies: [], lastArrival: [], arrivals: [], samples: [] };
  const expectedBySocket = new Map<BenchSocket, Set<string>>();
  for (const message of messages) {
    let last = -Infinity;
    for (const socket of message.sockets) {
      result.expected++;
      let expected = expectedBySocket.get(socket);
      if (!expected) expectedBySocket.set(socket, (expected = new Set()));
      expected.add(message.id);
      const at = socket.seen.get(message.id);
      if (at === undefined) {
        result.lost++;
        if (result.samples.length < 5) result.samples.push(`lost: message ${message.id} never reached user ${socket.userId}'s socket`);
        continue;
      }
      const copies = socket.duplicates.get(message.id) ?? 0;
      if (copies > 0) {
        result.duplicated += copies;
        if (result.samples.length < 5) result.samples.push(`duplicated: message ${message.id} reached user ${socket.userId}'s socket ${copies + 1} times`);
      }
      if (message.measured) {
        result.latencies.push(at - message.t0);
        result.arrivals.push({ id: message.id, at });
      }
      if (at > last) last = at;
    }
    if (message.measured && last > -Infinity) result.lastArrival.push(last - message.t0);
  }
  for (const socket of allSockets) {
    const expected = expectedBySocket.get(socket);
    for (const id of socket.seen.keys()) {
      if (expected?.has(id)) continue;
      result.stray++;
      if (result.samples.length < 5) result.samples.push(`stray: user ${socket.userId}'s socket got message ${id}, not sent to it in this phase`);
    }
    socket.reset();
  }
  return result;
}

/** A phase's notification latency from each message's store in PostgreSQL. */
export interface StoredToReceive {
  ms: Summary;
  /** How far the clocks' line-up can be off, and how far it moved since the previous one. */
  clockUncertaintyMs: number;
  clockDriftMs: number;
  /** Arrivals whose message was not found in the database (there should be none). */
  missing: number;
  /** Arrivals earlier than their message's store by more than the line-up's uncertainty: a clock problem. */
  beforeStored: number;
}

/**
 * Arrival minus the message's `created_at` in PostgreSQL, ms, for every measured (message,
 * socket): an upper bound on commit→receive (see StoreClock). The clocks are lined up again
 * first; `clockUncertaintyMs` says how far that line-up can be off.
 */
export async function storedToReceive(ctx: BenchContext, delivery: DeliveryResult): Promise<StoredToReceive> {
  await ctx.storeClock.lineUp();
  const stored = await ctx.storeClock.storedAt([...new Set(delivery.arrivals.map((arrival) => arrival.id))]);
  const latencies: number[] = [];
  let missing = 0;
  let beforeStored = 0;
  const clock = ctx.storeClock;
  for (const { id, at } of delivery.arrivals) {
    const storedAt = stored.get(id);
    if (storedAt === undefined) missing++;
    else {
      latencies.push(at - storedAt);
      if (at - storedAt < -clock.uncertaintyMs) beforeStored++;
    }
  }
  return { ms: summarize(latencies), clockUncertaintyMs: clock.uncertaintyMs, clockDriftMs: clock.driftMs, missing, beforeStored };
}

export interface LoopWindow {
  start: number;
  /** Start of the measured window (end of the warm-up). */
  measureStart: number;
  end: number;
  /** The phase hit its hard cap and was stopped. */
  capped: boolean;
}

/**
 * Runs `workers` closed loops (each starts its next iteration when the previous one is done)
 * through a warm-up and a measured window. Every loop is bounded by time; a hard cap stops
 * the phase if an iteration hangs.
 */
export async function closedLoops(
  workers: number,
  timing: Timing,
  iteration: (worker: number, window: LoopWindow) => Promise<void>,
): Promise<LoopWindow> {
  const start = performance.now();
  const window: LoopWindow = { start, measureStart: start + timing.warmupMs, end: start + timing.warmupMs + timing.measureMs, capped: false };
  const loop = async (worker: number) => {
    while (!window.capped && performance.now() < window.end) await iteration(worker, window);
  };
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      window.capped = true;
      resolve();
    }, timing.warmupMs + timing.measureMs + timing.hardCapExtraMs);
  });
  await Promise.race([Promise.all(Array.from({ length: workers }, (_, worker) => loop(worker))), cap]);
  clearTimeout(timer);
  return window;
}

/** Sums of one phase's HTTP answers; `ok` within the measured window make the rate. */
export function rate(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}
