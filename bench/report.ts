import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Summary } from './clients.js';
import { STALL_MS, windowsHitByStalls, type CommitProbeResult } from './commit-probe.js';
import type { CpuUse } from './cpu.js';
import type { RawBaselineResult } from './raw-baseline.js';
import type { ClientLibraryResult } from './scenarios/client-library.js';
import type { ConnectionsResult } from './scenarios/connections.js';
import type { FanoutResult } from './scenarios/fanout.js';
import type { FullFlowResult } from './scenarios/full-flow.js';
import type { LiveSignalsResult } from './scenarios/live-signals.js';
import type { LoginFloodResult } from './scenarios/login-flood.js';
import type { DeliveriesResult } from './scenarios/deliveries.js';
import type { ReactionsResult } from './scenarios/reactions.js';
import type { SearchResult } from './scenarios/search.js';
import type { PacedResult, ThroughputResult } from './scenarios/throughput.js';
import type { UploadsResult } from './scenarios/uploads.js';
import type { LogScan } from './server.js';

/** Everything one run measured; written as JSON as is. */
export interface BenchResults {
  mode: 'quick' | 'full';
  startedAt: string;
  finishedAt?: string;
  machine: Record<string, unknown>;
  config: Record<string, unknown>;
  throughput: ThroughputResult[];
  /**
   * The raw baseline, run just before and just after Parley's K=64 phase: the machine's speed
   * drifts by tens of percent within minutes, and two runs around Parley's show how much.
   */
  rawBaselines: RawBaselineResult[];
  /** The mean of the raw baselines' messages/s. */
  rawBaselineMean?: number;
  /** Parley K=64 messages/s over that mean: the figure the target judges. */
  ratioToRawBaseline?: number;
  /** Parley K=64 messages/s over each raw baseline's, in the order they ran. */
  ratioToEachRawBaseline?: number[];
  paced?: PacedResult;
  fullFlow?: FullFlowResult;
  uploads?: UploadsResult;
  /** Issue 30's typing and presence load, with a K=16 sender before and during it. */
  liveSignals?: LiveSignalsResult;
  clientLibrary?: ClientLibraryResult;
  fanout?: FanoutResult;
  reactions?: ReactionsResult;
  /** Issue 31: bots' webhooks beside K senders, with all receivers up and with half failing. */
  deliveries?: DeliveriesResult;
  loginFlood?: LoginFloodResult;
  search?: SearchResult;
  connections?: ConnectionsResult;
  serverLogs: Record<string, LogScan>;
  /** Phases that failed outright (an exception, not just a missed target). */
  failures: string[];
  rows?: Row[];
  /** Lost + duplicated + stray notifications over every phase. */
  deliveryProblems?: number;
  /** Non-2xx answers, network errors and failed connects over every phase. */
  requestErrors?: number;
  notes: string[];
}

export interface Row {
  figure: string;
  measured: string;
  target: string;
  /** true met, false missed, undefined: no target (information only). */
  met?: boolean;
  /** The Django original's figure, quoted from the issue (not measured here). */
  reference?: string;
}

const int = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? '–' : Math.round(value).toLocaleString('en-US'));
const ms = (value: number | undefined) =>
  value === undefined || Number.isNaN(value) ? '–' : value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : Math.round(value).toString();
const lat = (s: Summary | undefined, withMax = true) =>
  !s || s.count === 0 ? '–' : `${ms(s.p50)} / ${ms(s.p99)}${withMax ? ` / ${ms(s.max)}` : ''} ms`;

/** Every notification exactly once: the row of each phase that sends messages. */
const deliveryRow = (d: { lost: number; duplicated: number; stray: number }): Row => ({
  figure: '  lost / duplicated (stray)',
  measured: `${d.lost} / ${d.duplicated} (${d.stray})`,
  target: '0 / 0',
  met: d.lost === 0 && d.duplicated === 0 && d.stray === 0,
});

const cpuRow = (cpu: CpuUse | undefined): Row[] => {
  if (!cpu) return [];
  const waiting = cpu.waitingForCpu !== undefined ? `; some task waiting for a core ${Math.round(cpu.waitingForCpu * 100)}% of the time` : '';
  const rows: Row[] = [{ figure: '  CPU cores: server / postgres / harness / machine', measured: `${cpu.server} / ${cpu.postgres} / ${cpu.harness} / ${cpu.machine} of ${cpu.cores}${waiting}`, target: '' }];
  const each = cpu.msPerMessage;
  if (each) {
    rows.push({
      figure: `  CPU ms per stored message (${int(each.messages)} stored): server / postgres / machine`,
      measured: `${each.server.toFixed(3)} / ${each.postgres.toFixed(3)} / ${each.machine.toFixed(3)}`,
      target: '',
    });
  }
  return rows;
};

/** The database's own commit latency beside a latency phase (commit-probe.ts). */
const commitProbeRow = (probe: CommitProbeResult | undefined): Row[] =>
  probe
    ? [
        {
          figure: `  database alone: one-row commit every ${probe.intervalMs} ms, p50 / p99 / max; over ${STALL_MS} ms`,
          measured: `${lat(probe.commitMs)}; ${probe.stalls.length}${probe.error ? ` (stopped: ${probe.error})` : ''}`,
          target: '',
        },
      ]
    : [];

/** What the server's own /metrics said of a sending phase. */
function serverMetricRows(phase: ThroughputResult): Row[] {
  const rows: Row[] = [];
  if (phase.serverNotifyMeanMs !== undefined) {
    rows.push({ figure: '  server commit→hand-off mean (/metrics)', measured: `${ms(phase.serverNotifyMeanMs)} ms`, target: '' });
  }
  if (phase.serverSendBatchMean !== undefined) {
    rows.push({ figure: '  server messages per send statement, mean (/metrics)', measured: phase.serverSendBatchMean.toFixed(1), target: '' });
  }
  return rows;
}

/** Issue 28's uploads phase: the uploads' rate against the disk's, and what they cost the text senders. */
function uploadRows(u: UploadsResult): Row[] {
  const alone = u.sendersAlone;
  const beside = u.sendersWithUploads;
  const ratio = beside.storedToReceive.ms.p99 / alone.storedToReceive.ms.p99;
  const clocksAgree = alone.storedToReceive.beforeStored === 0 && beside.storedToReceive.beforeStored === 0;
  const mb = (value: number) => (Number.isNaN(value) ? '–' : value.toFixed(1));
  return [
    {
      figure: `Uploads: ${u.uploaders} clients, ${mb(u.imageBytes / 2 ** 20)} MiB JPEGs with EXIF (${u.imagePixels}), beside ${int(alone.targetRate)} msg/s of text`,
      measured: `${mb(u.uploadMegabytesPerSecond)} MB/s (${int(u.uploads)} uploads)`,
      target: '',
    },
    { figure: '  upload p50 / p99 / max', measured: lat(u.uploadMs), target: '' },
    {
      figure: '  the disk alone: dd of the same bytes, conv=fdatasync',
      measured: `${mb(u.disk.megabytesPerSecond)} MB/s${u.disk.error ? ` (${u.disk.error})` : ''}; uploads at ${Number.isNaN(u.disk.megabytesPerSecond) ? '–' : `${((100 * u.uploadMegabytesPerSecond) / u.disk.megabytesPerSecond).toFixed(0)}%`} of it`,
      target: '',
    },
    {
      figure: `  ${alone.senders} senders' notification stored→receive p99: alone → beside uploads`,
      measured: `${ms(alone.storedToReceive.ms.p99)} → ${ms(beside.storedToReceive.ms.p99)} ms (${Number.isFinite(ratio) ? ratio.toFixed(2) : '–'}×)`,
      target: '≤ 2×',
      met: clocksAgree && ratio <= 2,
    },
    {
      figure: '  their notification scheduled POST start→receive p99: alone → beside',
      measured: `${ms(alone.notificationMs.p99)} → ${ms(beside.notificationMs.p99)} ms`,
      target: '',
    },
    { figure: '  their msg/s achieved: alone → beside', measured: `${int(alone.messagesPerSecond)} → ${int(beside.messagesPerSecond)}`, target: '' },
    ...commitProbeRow(u.databaseCommits),
    deliveryRow({
      lost: alone.lost + beside.lost,
      duplicated: alone.duplicated + beside.duplicated,
      stray: alone.stray + beside.stray,
    }),
    ...cpuRow(u.cpu),
  ];
}

/** The table's rows: each scenario's figures, the targets of the issue and whether they are met. */
export function buildRows(r: BenchResults): Row[] {
  const rows: Row[] = [];
  const quick = r.mode === 'quick';
  for (const t of r.throughput) {
    const k64 = t.senders === 64;
    rows.push({
      figure: `POST throughput, K=${t.senders} senders`,
      measured: `${int(t.messagesPerSecond)} msg/s`,
      target: k64 ? '≥ 7,000 msg/s' : '',
      met: k64 ? t.messagesPerSecond >= 7000 : undefined,
      reference: k64 ? '≈60 POST/s' : undefined,
    });
    rows.push({ figure: `  HTTP p50 / p99 / max`, measured: lat(t.httpMs), target: '' });
    rows.push({ figure: `  notification stored→receive p50 / p99 / max`, measured: lat(t.storedToReceive.ms), target: '' });
    rows.push({
      figure: `  notification POST start→receive p50 / p99 / max`,
      measured: lat(t.notificationMs),
      target: '',
      reference: t.senders === 16 ? 'p99 ≈330 ms (16 senders)' : undefined,
    });
    rows.push(deliveryRow(t));
    rows.push(...serverMetricRows(t));
    rows.push(...cpuRow(t.cpu));
  }
  for (const raw of r.rawBaselines) {
    rows.push({
      figure: `Raw pg baseline ${raw.when} K=64, ${raw.loops} loops, pool ${raw.poolSize}, ${raw.inFlight ?? 1} statement(s) in flight`,
      measured: `${int(raw.messagesPerSecond)} msg/s (p99 ${ms(raw.latencyMs.p99)} ms)`,
      target: '',
    });
    rows.push({ figure: '  messages per send statement, mean', measured: raw.meanBatch.toFixed(1), target: '' });
    rows.push(...cpuRow(raw.cpu));
  }
  if (r.ratioToRawBaseline !== undefined) {
    // Three decimals: with two, 0.496 would print as a missed 0.50×.
    const each = (r.ratioToEachRawBaseline ?? []).map((ratio, i) => `${Number.isNaN(ratio) ? '–' : `${ratio.toFixed(3)}×`} ${r.rawBaselines[i].when}`);
    rows.push({
      figure: each.length > 1 ? 'Parley K=64 / raw baseline, mean of both' : 'Parley K=64 / raw baseline',
      measured: `${r.ratioToRawBaseline.toFixed(3)}×${each.length > 1 ? ` (${each.join(', ')})` : ''}`,
      target: '≥ 0.75×',
      met: r.ratioToRawBaseline >= 0.75,
    });
  }
  if (r.paced) {
    const p = r.paced;
    rows.push({
      figure: `Paced ${int(p.targetRate)} msg/s open loop, ${p.senders} senders`,
      measured: `${int(p.messagesPerSecond)} msg/s achieved${p.skipped ? `, ${p.skipped} skipped` : ''}`,
      target: `${int(p.targetRate)} msg/s offered`,
    });
    const stored = p.storedToReceive;
    // Frames seemingly earlier than their store mean the clocks are not lined up: no claim then.
    const clocksAgree = stored.beforeStored === 0;
    rows.push({ figure: '  notification stored→receive p50', measured: `${ms(stored.ms.p50)} ms`, target: '≤ 2 ms', met: clocksAgree && stored.ms.p50 <= 2 });
    rows.push({
      figure: '  notification stored→receive p99',
      measured: `${ms(stored.ms.p99)} ms`,
      target: '≤ 10 ms',
      met: clocksAgree && stored.ms.p99 <= 10,
      reference: 'p99 ≈330 ms (16 senders)',
    });
    rows.push({ figure: '  notification stored→receive max', measured: `${ms(stored.ms.max)} ms`, target: '' });
    rows.push({
      figure: '  clocks lined up within / moved; frames before their store',
      measured: `±${ms(stored.clockUncertaintyMs)} / ${ms(stored.clockDriftMs)} ms; ${stored.beforeStored}`,
      target: '',
    });
    rows.push({ figure: '  notification scheduled POST start→receive p50 / p99 / max', measured: lat(p.notificationMs), target: '' });
    rows.push({ figure: '  generator lag p99 / max', measured: `${ms(p.scheduleLagMs.p99)} / ${ms(p.scheduleLagMs.max)} ms`, target: '' });
    rows.push(...commitProbeRow(p.databaseCommits));
    rows.push(deliveryRow(p));
    rows.push(...serverMetricRows(p));
    rows.push(...cpuRow(p.cpu));
  }
  if (r.fullFlow) {
    const f = r.fullFlow;
    rows.push({
      figure: `Full flow POST→notify→GET, ${f.senders} pairs`,
      measured: `${int(f.messagesPerSecond)} msg/s`,
      target: '≥ 4,000 msg/s',
      met: f.messagesPerSecond >= 4000,
      reference: '120 GET/s',
    });
    rows.push({ figure: '  POST start → GET done p50 / p99 / max', measured: lat(f.flowMs), target: '' });
    rows.push(deliveryRow(f));
    rows.push(...cpuRow(f.cpu));
  }
  if (r.uploads) rows.push(...uploadRows(r.uploads));
  if (r.liveSignals) rows.push(...liveSignalRows(r.liveSignals, quick));
  if (r.clientLibrary) {
    const c = r.clientLibrary;
    rows.push({
      figure: `@parley/client catch-up: ${int(c.missed)} missed in ${c.conversations} conversations`,
      measured: `${int(c.catchUpPerSecond)} msg/s (${int(c.catchUpMs)} ms)`,
      target: '',
    });
    rows.push({ figure: `  live, ${c.liveSenders} senders: POST start → message event p50 / p99 / max`, measured: lat(c.liveMs), target: '' });
    rows.push({ figure: '  live messages emitted', measured: `${int(c.liveMessagesPerSecond)} msg/s`, target: '' });
    rows.push({ ...deliveryRow(c), figure: '  lost / emitted twice (out of order)' });
    rows.push(...cpuRow(c.cpu));
  }
  if (r.fanout) {
    const f = r.fanout;
    rows.push({
      figure: `Fan-out to ${int(f.members)} members, ${f.repeats} repeats`,
      measured: `p50 ${ms(f.lastMemberMs.p50)} / p99 ${ms(f.lastMemberMs.p99)} / max ${ms(f.lastMemberMs.max)} ms`,
      target: `p99 ≤ 30 ms${quick ? ' (at 1,000)' : ''}`,
      met: f.lastMemberMs.count > 0 && f.lastMemberMs.p99 <= 30,
    });
    rows.push({ figure: '  first member → last member p50 / p99 / max', measured: lat(f.spreadMs), target: '' });
    rows.push(...commitProbeRow(f.databaseCommits));
    if (f.databaseCommits) {
      const slow = f.windows.filter((window) => window.end - window.start > 50);
      rows.push({
        figure: `  repeats over 50 ms; of those, during a probe commit over ${STALL_MS} ms`,
        measured: `${slow.length}; ${windowsHitByStalls(slow, f.databaseCommits.stalls)}`,
        target: '',
      });
    }
    rows.push(deliveryRow(f));
    rows.push(...cpuRow(f.cpu));
  }
  if (r.deliveries) {
    const d = r.deliveries;
    rows.push({
      figure: `Deliveries: ${int(d.bots)} bots with webhooks on a local receiver, K=${d.senders} senders into their groups`,
      measured: `senders lose ${d.senderLossPercent.toFixed(1)}%`,
      target: '≤ 20%',
      met: d.senderLossPercent <= 20,
    });
    const withoutRuns = [d.without, d.withoutAgain];
    const runs = [d.without, d.withWebhooks, d.withWebhooksAgain, d.withoutAgain, d.halfFailing, ...(d.halfNeverAnswering ? [d.halfNeverAnswering.run] : [])];
    for (const run of runs) {
      rows.push({
        figure: `  ${run.label}: send msg/s; notification stored→receive p99`,
        measured: `${int(run.messagesPerSecond)} msg/s; ${ms(run.storedToReceive.ms.p99)} ms`,
        target: '',
      });
      if (run.cpu) {
        const c = run.cpu;
        rows.push({ figure: `  ${run.label}: CPU cores, server(s) / postgres / harness / machine`, measured: `${c.server} / ${c.postgres} / ${c.harness} / ${c.machine} of ${c.cores}`, target: '' });
      }
      if (run.walBytesPerMessage !== undefined) {
        rows.push({ figure: `  ${run.label}: WAL written per message sent (the whole cluster)`, measured: `${int(run.walBytesPerMessage)} bytes`, target: '' });
      }
      if (withoutRuns.includes(run)) continue;
      rows.push({
        figure: `  ${run.label}: webhook deliveries/s; from commit p50 / p99 / max`,
        measured: `${int(run.deliveriesPerSecond)} /s; ${lat(run.deliveryMs)}`,
        target: '',
      });
      rows.push({
        figure: `  ${run.label}: answered 500; healthy bots' frames undelivered (drain ms)`,
        measured: `${int(run.refused)}; ${int(run.undelivered)} (${int(run.drainMs)} ms)`,
        target: '',
      });
    }
    if (d.halfNeverAnswering) {
      const n = d.halfNeverAnswering;
      rows.push({ figure: `  ${n.run.label}: requests held by that server; senders lose`, measured: `${int(n.requests)}; ${n.senderLossPercent.toFixed(1)}%`, target: '' });
    }
    if (d.alternated) {
      const a = d.alternated;
      rows.push({
        figure: `  judged on one run switched on and off every ${a.segmentMs / 1000} s (each segment's first ${a.settleMs / 1000} s left out): msg/s without → with`,
        measured: `${int(a.withoutMessagesPerSecond)} → ${int(a.withMessagesPerSecond)}`,
        target: '',
      });
      rows.push({ figure: '  … over the separate runs (each the mean of its two)', measured: `senders lose ${d.separateRunsLossPercent.toFixed(1)}%`, target: '' });
      const losses = a.pairLossesPercent;
      rows.push({
        figure: `  … each pair of neighbouring segments: lowest / median / highest loss`,
        measured: `${losses[0].toFixed(1)} / ${losses[Math.floor(losses.length / 2)].toFixed(1)} / ${losses[losses.length - 1].toFixed(1)}%`,
        target: '',
      });
      rows.push({ ...deliveryRow(a), figure: '  … lost / duplicated (stray)' });
    }
    if (d.drain) {
      const c = d.drain.cpuUsPerDelivery;
      rows.push({
        figure: `  a backlog of ${int(d.drain.frames)} frames alone: deliveries/s; µs of CPU per delivery, server / postgres / receiver / machine`,
        measured: `${int(d.drain.deliveriesPerSecond)} /s; ${c.server} / ${c.postgres} / ${c.receiver} / ${c.machine}`,
        target: '',
      });
    }
    if (d.withPushes) {
      const { run, pushes, urgency, senderLossPercent } = d.withPushes;
      rows.push({
        figure: `  ${run.label}: send msg/s; notification p99; senders lose`,
        measured: `${int(run.messagesPerSecond)} msg/s; ${ms(run.storedToReceive.ms.p99)} ms; ${senderLossPercent.toFixed(1)}%`,
        target: '',
      });
      rows.push({
        figure: `  ${run.label}: pushes/s (each bot's newest); from commit p50 / p99 / max; Urgency`,
        measured: `${int(run.deliveriesPerSecond)} /s; ${lat(run.deliveryMs)}; ${Object.entries(urgency).map(([k, n]) => `${k} ${int(n)}`).join(', ')}`,
        target: '',
      });
      rows.push({ figure: `  ${run.label}: pushes; bots whose last message was not pushed (drain ms)`, measured: `${int(pushes)}; ${int(run.undelivered)} (${int(run.drainMs)} ms)`, target: '' });
      if (run.cpu) {
        const c = run.cpu;
        rows.push({ figure: `  ${run.label}: CPU cores, server(s) / postgres / harness / machine`, measured: `${c.server} / ${c.postgres} / ${c.harness} / ${c.machine} of ${c.cores}`, target: '' });
      }
    }
    if (d.apart) {
      const a = d.apart;
      rows.push({
        figure: `  ${a.run.label} (${int(a.queuedPerSecond)}/s by SQL): send msg/s; notification p99; deliveries/s`,
        measured: `${int(a.run.messagesPerSecond)} msg/s; ${ms(a.run.storedToReceive.ms.p99)} ms; ${int(a.deliveredPerSecond)} /s`,
        target: '',
      });
      rows.push({ figure: `  ${a.run.label}: senders lose`, measured: `${a.senderLossPercent.toFixed(1)}%`, target: '' });
      if (a.run.cpu) {
        const c = a.run.cpu;
        rows.push({ figure: `  ${a.run.label}: CPU cores, server(s) / postgres / harness / machine`, measured: `${c.server} / ${c.postgres} / ${c.harness} / ${c.machine} of ${c.cores}`, target: '' });
      }
    }
    rows.push(...cpuRow(d.cpu));
  }
  if (r.reactions) {
    const x = r.reactions;
    rows.push({
      figure: `Reactions: ${x.togglers} users toggling on ${x.hotMessages} hot messages of one group`,
      measured: `${int(x.togglesPerSecond)} toggles/s`,
      target: '≥ 3,000 toggles/s',
      met: x.togglesPerSecond >= 3000,
    });
    rows.push({ figure: '  HTTP p50 / p99 / max', measured: lat(x.httpMs), target: '' });
    rows.push({
      figure: `  message.updated, toggle start→receive p50 / p99 / max (a probe's ${int(x.probeToggles)} toggles amid the load)`,
      measured: lat(x.notificationMs),
      target: '',
    });
    rows.push({
      figure: `  hot-message frames at one of ${x.watchers} watching sockets; toggles per frame`,
      measured: `${int(x.hotFramesPerSecond)} /s; ${Number.isNaN(x.togglesPerFrame) ? '–' : x.togglesPerFrame.toFixed(1)}`,
      target: '',
    });
    rows.push({
      figure: '  hot messages whose counts differ from the toggles answered',
      measured: `${x.countMismatches} of ${x.hotMessages}`,
      target: '0',
      met: x.countMismatches === 0,
    });
    rows.push(deliveryRow(x));
    rows.push(...cpuRow(x.cpu));
  }
  if (r.search) {
    const s = r.search;
    rows.push({
      figure: `Search, ${s.searchers} closed loops as ${int(s.users)} users in turn`,
      measured: `p50 ${ms(s.searchMs.p50)} / p99 ${ms(s.searchMs.p99)} / max ${ms(s.searchMs.max)} ms`,
      target: 'p99 ≤ 50 ms',
      met: s.searchMs.count > 0 && s.searchMs.p99 <= 50,
    });
    rows.push({ figure: '  searches/s; that found something', measured: `${int(s.searchesPerSecond)} /s; ${int(s.withResults)} of ${int(s.searches)}`, target: '' });
    for (const [q, summary] of Object.entries(s.byQuery)) {
      rows.push({ figure: `  q=${q} p50 / p99 / max`, measured: lat(summary), target: '' });
    }
    rows.push({ figure: '  errors', measured: int(s.errors.total), target: '0', met: s.errors.total === 0 });
    rows.push(...cpuRow(s.cpu));
  }
  if (r.loginFlood) {
    const f = r.loginFlood;
    rows.push({
      figure: `Login flood: ${f.clients} clients from ${f.clients} addresses, scrypt N=2^${Math.log2(f.scryptCost)}`,
      measured: `${f.flood.loginsPerSecond.toFixed(1)} logins/s; ${int(f.flood.refused)} answered 503 in ${int(f.measureMs / 1000)} s`,
      target: '',
    });
    rows.push({ figure: '  login 200 p50 / p99 / max', measured: lat(f.flood.loginMs), target: '' });
    rows.push({ figure: '  login 503 p50 / p99 / max', measured: lat(f.flood.refusedMs), target: '' });
    const beside = (quiet: Summary, flood: Summary) => `${ms(quiet.p99)} → ${ms(flood.p99)} ms`;
    rows.push({ figure: '  GET / (the page) p99: without → during the flood', measured: beside(f.quiet.pageMs, f.flood.pageMs), target: '' });
    rows.push({ figure: '  a sender\'s POST p99: without → during', measured: beside(f.quiet.sendMs, f.flood.sendMs), target: '' });
    rows.push({
      figure: '  its notification POST start→receive p99: without → during',
      measured: beside(f.quiet.notificationMs, f.flood.notificationMs),
      target: '',
    });
    rows.push(deliveryRow(f));
    rows.push(...cpuRow(f.cpu));
  }
  if (r.connections) {
    const c = r.connections;
    rows.push({
      figure: `Idle sockets, 1 per user, ≤${c.concurrency} in flight`,
      measured: `${int(c.opened)} of ${int(c.requested)}`,
      target: quick ? `all (15,000 in full mode)` : '15,000',
      met: c.opened === c.requested && (quick || c.opened >= 15000),
    });
    rows.push({
      figure: '  connects/s',
      measured: `${int(c.connectsPerSecond)} /s (p99 ${ms(c.connectMs.p99)} ms)`,
      target: '≥ 2,000 /s',
      met: c.connectsPerSecond >= 2000,
      reference: '45 connects/s',
    });
    if (c.coldConnectsPerSecond !== undefined) {
      rows.push({
        figure: `  the warm-up before them: ${int(c.warmupSockets)} handshakes of a cold server`,
        measured: `${int(c.coldConnectsPerSecond)} /s`,
        target: '',
      });
    }
    rows.push({
      figure: '  server RSS per socket (fresh instance)',
      measured: `${c.kbPerSocket.toFixed(1)} KB (${int(c.rssBeforeKb / 1024)} → ${int(c.rssAfterKb / 1024)} MB)`,
      target: '≤ 12 KB',
      met: c.kbPerSocket <= 12,
      reference: '≈41 KB',
    });
    rows.push(...cpuRow(c.cpu));
  }
  return rows;
}

/** Issue 30's live-signals phase. */
function liveSignalRows(l: LiveSignalsResult, quick: boolean): Row[] {
  const perSecond = (value: number | undefined) => (value === undefined ? '–' : `${int(value)} /s`);
  const rows: Row[] = [
    {
      figure: `Live signals: ${int(l.users)} users in ${int(l.conversations)} conversations of ${l.conversationSize.min}–${l.conversationSize.max}, ${l.instances} instance(s)`,
      measured: `${int(l.framesDeliveredPerSecond)} frames delivered/s`,
      target: quick ? '(15,000 users in full mode)' : '',
    },
    {
      figure: `  ${int(l.typers)} typing (1 / ${(l.typingEveryMs / 1000).toFixed(1)} s), ${int(l.churnPerSecond)}/s connecting or disconnecting`,
      measured: `${int(l.typingSent)} typing sent, ${int(l.typingReceived)} received; ${int(l.connects)} connects, ${int(l.disconnects)} disconnects in ${(l.measuredMs / 1000).toFixed(1)} s`,
      target: '',
    },
    {
      figure: '  typing delivery p50 / p99 / max (the load alone)',
      measured: lat(l.typingMs),
      target: 'p99 ≤ 50 ms',
      met: l.typingMs.count > 0 && l.typingMs.p99 <= 50,
    },
    ...(l.eventLoopDelayMs
      ? [
          {
            figure: '  … event loops running late over that window, p99 / max: server(s); the harness',
            measured: `${l.eventLoopDelayMs.servers.map((d) => `${ms(d.p99)} / ${ms(d.max)}`).join(', ')} ms; ${ms(l.eventLoopDelayMs.harness.p99)} / ${ms(l.eventLoopDelayMs.harness.max)} ms`,
            target: '',
          },
        ]
      : []),
    ...(l.typingWithSendersMs
      ? [{ figure: `  … while the closed-loop K=${l.baseline?.senders ?? 16} sender also runs`, measured: lat(l.typingWithSendersMs), target: '' }]
      : []),
    { figure: '  presence announcements (servers) / presence frames received', measured: `${perSecond(l.presenceAnnouncementsPerSecond)} / ${int(l.presenceReceived)}`, target: '' },
    { figure: '  typing signals passed on (servers); dropped by the 2 s limit', measured: `${perSecond(l.typingPassedPerSecond)}; ${int(l.typingLimited)}`, target: '' },
    { figure: '  Redis commands/s (all of Redis)', measured: l.redisCommandsPerSecond === undefined ? '– (no Redis)' : perSecond(l.redisCommandsPerSecond), target: '' },
    { figure: '  stray frames (to a user sharing no conversation)', measured: `${l.stray}`, target: '0', met: l.stray === 0 },
  ];
  if (l.baseline && l.underLoad) {
    const ratio = l.p99Ratio;
    rows.push({
      figure: `  K=${l.baseline.senders} notification POST start→receive p99: without → with the load`,
      measured: `${ms(l.baseline.notificationMs.p99)} → ${ms(l.underLoad.notificationMs.p99)} ms (×${ratio === undefined ? '–' : ratio.toFixed(2)})`,
      target: '≤ 1.5×',
      met: ratio !== undefined && ratio <= 1.5,
    });
    rows.push({
      figure: `  K=${l.baseline.senders} msg/s without → with; stored→receive p99`,
      measured: `${int(l.baseline.messagesPerSecond)} → ${int(l.underLoad.messagesPerSecond)}; ${ms(l.baseline.storedToReceive.ms.p99)} → ${ms(l.underLoad.storedToReceive.ms.p99)} ms`,
      target: '',
    });
    rows.push(deliveryRow({
      lost: l.baseline.lost + l.underLoad.lost,
      duplicated: l.baseline.duplicated + l.underLoad.duplicated,
      stray: l.baseline.stray + l.underLoad.stray,
    }));
  }
  const cores = (cpu: CpuUse | undefined) => (cpu ? `${cpu.server} / ${cpu.postgres} / ${cpu.harness} / ${cpu.machine}` : '–');
  if (l.windowCpu) {
    rows.push({
      figure: '  CPU cores (server / postgres / harness / machine): sender alone; load alone; both',
      measured: `${cores(l.windowCpu.senderAlone)}; ${cores(l.windowCpu.loadAlone)}; ${cores(l.windowCpu.both)}`,
      target: '',
    });
  }
  rows.push(...cpuRow(l.cpu));
  return rows;
}

/** Renders the rows as a fixed-width text table. */
export function renderTable(rows: Row[]): string {
  const header: Row = { figure: 'Figure', measured: 'Measured', target: 'Target', reference: 'Django original*' };
  const metText = (row: Row) => (row === header ? 'Met?' : row.met === undefined ? '' : row.met ? 'met' : 'MISSED');
  const cells = [header, ...rows].map((row) => [row.figure, row.measured, row.target, metText(row), row.reference ?? '']);
  const widths = cells[0].map((_, column) => Math.max(...cells.map((line) => [...line[column]].length)));
  const pad = (text: string, width: number) => text + ' '.repeat(width - [...text].length);
  const line = (parts: string[]) => parts.map((part, column) => pad(part, widths[column])).join(' │ ').trimEnd();
  const rule = widths.map((width) => '─'.repeat(width)).join('─┼─');
  return [
    line(cells[0]),
    rule,
    ...cells.slice(1).map(line),
    '',
    '* Django original: figures quoted from the issue, not measured here.',
    'CPU: cores busy over the whole phase (warm-up and grace included); machine counts everything, other jobs too.',
  ].join('\n');
}

/**
 * The mean of the baselines (zero ones, from a failed run, left out), and Parley's messages/s
 * over it and over each (NaN for a zero one); undefined when there is none to divide by.
 */
export function ratioToBaselines(parley: number, baselines: number[]): { baseline: number; ratio: number; each: number[] } | undefined {
  const usable = baselines.filter((baseline) => baseline > 0);
  if (usable.length === 0) return undefined;
  const baseline = usable.reduce((sum, value) => sum + value, 0) / usable.length;
  return { baseline, ratio: parley / baseline, each: baselines.map((value) => (value > 0 ? parley / value : NaN)) };
}

/** A small hand-written bar chart: messages/s per scenario, with the targets as marks. */
export function renderSvg(r: BenchResults): string {
  const bars: { label: string; value: number; target?: number; secondTarget?: { value: number; label: string } }[] = [];
  for (const t of r.throughput) {
    const k64 = t.senders === 64;
    const half = k64 && r.rawBaselineMean ? { value: r.rawBaselineMean / 2, label: '½ raw' } : undefined;
    bars.push({ label: `POST K=${t.senders}`, value: t.messagesPerSecond, target: k64 ? 3000 : undefined, secondTarget: half });
  }
  for (const raw of r.rawBaselines) bars.push({ label: `raw pg baseline ${raw.when} K=64`, value: raw.messagesPerSecond });
  if (r.fullFlow) bars.push({ label: `full flow K=${r.fullFlow.senders}`, value: r.fullFlow.messagesPerSecond, target: 1500 });
  if (r.paced) bars.push({ label: `paced (offered ${int(r.paced.targetRate)}/s)`, value: r.paced.messagesPerSecond, target: r.paced.targetRate });
  const width = 760;
  const labelWidth = 190;
  const barHeight = 26;
  const gap = 18;
  const top = 66;
  const chartWidth = width - labelWidth - 110;
  const max = Math.max(3000, ...bars.map((bar) => Math.max(bar.value, bar.target ?? 0))) * 1.05;
  const x = (value: number) => labelWidth + (value / max) * chartWidth;
  const height = top + bars.length * (barHeight + gap) + 50;
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="bold">Parley benchmark: messages/s (${r.mode} run)</text>`,
    `<text x="16" y="42" fill="#555">${escape(`${r.machine.cpuModel} ×${r.machine.cores}, Node ${r.machine.node}, PostgreSQL ${r.machine.postgres}, commit ${r.machine.gitCommit ? String(r.machine.gitCommit).slice(0, 10) : 'unknown'}`)}</text>`,
  ];
  bars.forEach((bar, i) => {
    const y = top + i * (barHeight + gap);
    const met = bar.target === undefined ? undefined : bar.value >= bar.target && (!bar.secondTarget || bar.value >= bar.secondTarget.value);
    const fill = met === undefined ? '#7a8ca5' : met ? '#3c9a5f' : '#c8553d';
    parts.push(`<text x="${labelWidth - 8}" y="${y + barHeight / 2 + 4}" text-anchor="end">${escape(bar.label)}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y}" width="${Math.max(1, x(bar.value) - labelWidth).toFixed(1)}" height="${barHeight}" fill="${fill}"/>`);
    parts.push(`<text x="${(x(bar.value) + 6).toFixed(1)}" y="${y + barHeight / 2 + 4}" stroke="#fff" stroke-width="4" paint-order="stroke">${int(bar.value)}</text>`);
    const marks = [
      ...(bar.target !== undefined ? [{ value: bar.target, label: int(bar.target) }] : []),
      ...(bar.secondTarget ? [bar.secondTarget] : []),
    ];
    for (const mark of marks) {
      const tx = x(mark.value).toFixed(1);
      parts.push(`<line x1="${tx}" y1="${y - 3}" x2="${tx}" y2="${y + barHeight + 3}" stroke="#000" stroke-width="2" stroke-dasharray="4 2"/>`);
      parts.push(`<text x="${tx}" y="${y - 5}" font-size="10" fill="#555" text-anchor="middle">${escape(mark.label)}</text>`);
    }
  });
  const legendY = height - 18;
  parts.push(`<line x1="16" y1="${legendY - 4}" x2="34" y2="${legendY - 4}" stroke="#000" stroke-width="2" stroke-dasharray="4 2"/>`);
  parts.push(`<text x="40" y="${legendY}">target (K=64: 3,000 msg/s and ½ the raw baseline; bar green: met, red: missed, grey: no target)</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Writes `<name>.json` and `<name>.svg` under bench/results/. */
export function writeResults(dir: string, name: string, results: BenchResults): { json: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `${name}.json`);
  const svg = path.join(dir, `${name}.svg`);
  writeFileSync(json, JSON.stringify(results, null, 2) + '\n');
  writeFileSync(svg, renderSvg(results));
  return { json, svg };
}
