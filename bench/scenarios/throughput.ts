import { performance } from 'node:perf_hooks';
import { ErrorCounter, sleep, summarize, type Summary } from '../clients.js';
import type { CommitProbeResult } from '../commit-probe.js';
import type { CpuUse } from '../cpu.js';
import type { SendTraceSummary } from '../send-trace.js';
import { type MetricsSample, meanNotifyMs, meanSendBatch, scrapeMetrics } from '../server.js';
import {
  closedLoops,
  rate,
  settleAndCheck,
  storedToReceive,
  type BenchContext,
  type DeliveryResult,
  type SentMessage,
  type StoredToReceive,
} from './common.js';
import { pairSockets, type Pair } from './pairs.js';

export interface ThroughputResult {
  senders: number;
  messages: number;
  messagesPerSecond: number;
  httpMs: Summary;
  /** Frame arrival minus the POST's start (scheduled start in the paced run). */
  notificationMs: Summary;
  /** Frame arrival minus the message's created_at in PostgreSQL: an upper bound on commit→receive. */
  storedToReceive: StoredToReceive;
  lost: number;
  duplicated: number;
  stray: number;
  /** Mean commit→hand-off from the server's own histogram over this phase, if it has one. */
  serverNotifyMeanMs?: number;
  /** Messages per send statement over this phase, from the server's histogram. */
  serverSendBatchMean?: number;
  errors: ReturnType<ErrorCounter['toJSON']>;
  capped: boolean;
  deliverySamples: string[];
  /** Filled in by the orchestrator, over the whole phase. */
  cpu?: CpuUse;
  /** With --trace: where the sends' time went, from the server's SEND_TRACE_FILE (warm-up included). */
  trace?: SendTraceSummary;
}

function postMessage(ctx: BenchContext, pair: Pair, body: string) {
  return ctx.http.request('POST', '/api/v1/messages', pair.sender.token, { conversationId: pair.conversationId, body });
}

function finish(
  senders: number,
  okCount: number,
  measureMs: number,
  http: number[],
  delivery: DeliveryResult,
  stored: StoredToReceive,
  errors: ErrorCounter,
  capped: boolean,
  metrics: [before: MetricsSample, after: MetricsSample],
): ThroughputResult {
  if (capped) errors.add('phase hit its hard cap');
  return {
    senders,
    messages: okCount,
    messagesPerSecond: rate(okCount, measureMs),
    httpMs: summarize(http),
    notificationMs: summarize(delivery.latencies),
    storedToReceive: stored,
    lost: delivery.lost,
    duplicated: delivery.duplicated,
    stray: delivery.stray,
    serverNotifyMeanMs: meanNotifyMs(...metrics),
    serverSendBatchMean: meanSendBatch(...metrics),
    errors: errors.toJSON(),
    capped,
    deliverySamples: delivery.samples,
  };
}

/**
 * Scenario 1: K closed-loop senders, each POSTing into its own direct conversation as fast as
 * answers come back; both members' sockets must get every message's frame exactly once.
 */
export async function throughput(ctx: BenchContext, pairs: Pair[], senders: number): Promise<ThroughputResult> {
  const errors = new ErrorCounter();
  const sent: SentMessage[] = [];
  const http: number[] = [];
  let ok = 0;
  const metricsBefore = await scrapeMetrics(ctx.api);
  const window = await closedLoops(senders, ctx.timing, async (worker, w) => {
    const pair = pairs[worker];
    const t0 = performance.now();
    try {
      const result = await postMessage(ctx, pair, `bench K=${senders} from ${worker}`);
      const t1 = performance.now();
      if (!errors.check('POST /api/v1/messages', result)) return void (await sleep(10));
      const measured = t0 >= w.measureStart;
      sent.push({ id: String(result.body.id), t0, sockets: [pair.senderSocket, pair.recipientSocket], measured });
      if (measured && t1 <= w.end) {
        ok++;
        http.push(t1 - t0);
      }
    } catch (error) {
      errors.add('POST /api/v1/messages network error', (error as Error).message);
      await sleep(10);
    }
  });
  const delivery = await settleAndCheck(sent, pairSockets(pairs), ctx.timing.graceMs);
  const metricsAfter = await scrapeMetrics(ctx.api);
  return finish(senders, ok, ctx.timing.measureMs, http, delivery, await storedToReceive(ctx, delivery), errors, window.capped, [metricsBefore, metricsAfter]);
}

export interface PacedResult extends ThroughputResult {
  targetRate: number;
  /** The database's own commits meanwhile (run.ts). */
  databaseCommits?: CommitProbeResult;
  /** How late the generator fired requests against their schedule, ms. */
  scheduleLagMs: Summary;
  /** Requests not sent because too many were in flight (the server fell behind). */
  skipped: number;
}

const MAX_IN_FLIGHT = 2000;

/**
 * The latency run: an open-loop POST rate (each request fires at its scheduled time whether or
 * not earlier ones have been answered), round-robin over `senders` pairs. Latencies are taken
 * from the *scheduled* start, so a generator or server falling behind shows up in them.
 */
export async function paced(ctx: BenchContext, pairs: Pair[], senders: number, targetRate: number): Promise<PacedResult> {
  const errors = new ErrorCounter();
  const sent: SentMessage[] = [];
  const http: number[] = [];
  const lag: number[] = [];
  let ok = 0;
  let skipped = 0;
  let inFlight = 0;
  const interval = 1000 / targetRate;
  const metricsBefore = await scrapeMetrics(ctx.api);
  const start = performance.now() + 5;
  const measureStart = start + ctx.timing.warmupMs;
  const end = measureStart + ctx.timing.measureMs;
  const requests: Promise<void>[] = [];

  const fire = (index: number, scheduled: number) => {
    const pair = pairs[index % senders];
    const measured = scheduled >= measureStart;
    if (measured) lag.push(performance.now() - scheduled);
    if (inFlight >= MAX_IN_FLIGHT) {
      skipped++;
      return;
    }
    inFlight++;
    const request = postMessage(ctx, pair, `bench paced ${index}`)
      .then((result) => {
        const t1 = performance.now();
        if (!errors.check('POST /api/v1/messages', result)) return;
        sent.push({ id: String(result.body.id), t0: scheduled, sockets: [pair.senderSocket, pair.recipientSocket], measured });
        if (measured) http.push(t1 - scheduled);
        // The achieved rate: answers that came back within the measured window.
        if (t1 >= measureStart && t1 <= end) ok++;
      })
      .catch((error: Error) => errors.add('POST /api/v1/messages network error', error.message))
      .finally(() => inFlight--);
    requests.push(request);
  };

  // A 1 ms timer tick fires every request whose time has come (timers are not precise enough
  // to schedule each one on its own at 1,000/s).
  await new Promise<void>((resolve) => {
    let index = 0;
    const tick = () => {
      const now = performance.now();
      for (let scheduled = start + index * interval; scheduled <= now && scheduled < end; scheduled = start + index * interval) {
        fire(index, scheduled);
        index++;
      }
      if (start + index * interval >= end) resolve();
      else setTimeout(tick, 1);
    };
    setTimeout(tick, 5);
  });
  const capped = await Promise.race([
    Promise.all(requests).then(() => false),
    sleep(ctx.timing.hardCapExtraMs).then(() => true),
  ]);
  const delivery = await settleAndCheck(sent, pairSockets(pairs), ctx.timing.graceMs);
  const metricsAfter = await scrapeMetrics(ctx.api);
  return {
    ...finish(senders, ok, ctx.timing.measureMs, http, delivery, await storedToReceive(ctx, delivery), errors, capped, [metricsBefore, metricsAfter]),
    targetRate,
    scheduleLagMs: summarize(lag),
    skipped,
  };
}
