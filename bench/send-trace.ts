import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { summarize, type Summary } from './clients.js';

/** One line of the server's SEND_TRACE_FILE (src/messages/send-trace.ts): ms on the server's clock. */
export interface SendTimeline {
  arrived: number;
  conversationId?: string;
  submitted?: number;
  batch?: number;
  batchSize?: number;
  batchesRunning?: number;
  cut?: number;
  answered?: number;
  framesOut?: number;
  replied?: number;
  status?: number;
}

/** Where a send's time went, stage by stage, and how busy the statements kept the database. */
export interface SendTraceSummary {
  sends: number;
  batches: number;
  meanBatch: number;
  /** Share of statements by how many were running (themselves included) when each was cut. */
  runningAtCut: Record<string, number>;
  stages: {
    /** Arrival → queued: Fastify, authentication, rate limit, validation. */
    request: Summary;
    /** Queued → its statement cut: waiting for a free statement. */
    queue: Summary;
    /** Cut → answered: the pool checkout and the statement's round trip. */
    statement: Summary;
    /** Answered → frames handed to the notifier: the callers resuming. */
    frames: Summary;
    /** Frames → reply written. */
    reply: Summary;
    total: Summary;
  };
  /** Share of the traced span in which at least one statement was running. */
  databaseBusy: number;
  /** From each statement's answer to the cut of the next statement (by cut time). */
  answerToNextCut: Summary;
  /** Ten statements from the middle of the trace, ms from the first one's cut. */
  sample: string[];
}

export function readTrace(file: string): SendTimeline[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as SendTimeline);
}

export function summarizeTrace(all: SendTimeline[]): SendTraceSummary | undefined {
  const sends = all.filter((t) => t.batch !== undefined && t.cut !== undefined && t.answered !== undefined && t.replied !== undefined);
  if (sends.length === 0) return undefined;
  const byBatch = new Map<number, SendTimeline[]>();
  for (const send of sends) byBatch.set(send.batch!, [...(byBatch.get(send.batch!) ?? []), send]);
  const batches = [...byBatch.entries()]
    .map(([batch, members]) => ({
      batch,
      size: members[0].batchSize!,
      running: members[0].batchesRunning!,
      cut: members[0].cut!,
      answered: members[0].answered!,
      framesOut: Math.max(...members.map((m) => m.framesOut ?? m.answered!)),
      lastReply: Math.max(...members.map((m) => m.replied!)),
      firstArrival: Math.min(...members.map((m) => m.arrived)),
    }))
    .sort((x, y) => x.cut - y.cut);

  const runningAtCut: Record<string, number> = {};
  for (const batch of batches) runningAtCut[batch.running] = (runningAtCut[batch.running] ?? 0) + 1 / batches.length;

  // The union of the statements' [cut, answered] intervals over the whole traced span.
  let busy = 0;
  let reach = -Infinity;
  for (const batch of batches) {
    const from = Math.max(batch.cut, reach);
    if (batch.answered > from) busy += batch.answered - from;
    reach = Math.max(reach, batch.answered);
  }
  const span = Math.max(...batches.map((b) => b.answered)) - batches[0].cut;

  const answerToNextCut: number[] = [];
  for (let i = 0; i + 1 < batches.length; i++) answerToNextCut.push(batches[i + 1].cut - batches[i].answered);

  const middle = Math.max(0, Math.floor(batches.length / 2) - 5);
  const origin = batches[middle]?.cut ?? 0;
  const at = (t: number) => `${(t - origin).toFixed(2).padStart(7)}`;
  const sample = batches
    .slice(middle, middle + 10)
    .map(
      (b) =>
        `statement ${b.batch}: ${String(b.size).padStart(3)} sends, ${b.running} running; first arrival ${at(b.firstArrival)}, cut ${at(b.cut)}, ` +
        `answered ${at(b.answered)}, frames ${at(b.framesOut)}, last reply ${at(b.lastReply)} ms`,
    );

  const stage = (from: (t: SendTimeline) => number | undefined, to: (t: SendTimeline) => number | undefined) =>
    summarize(sends.map((t) => (to(t) ?? NaN) - (from(t) ?? NaN)).filter((ms) => Number.isFinite(ms)));
  return {
    sends: sends.length,
    batches: batches.length,
    meanBatch: sends.length / batches.length,
    runningAtCut,
    stages: {
      request: stage((t) => t.arrived, (t) => t.submitted),
      queue: stage((t) => t.submitted, (t) => t.cut),
      statement: stage((t) => t.cut, (t) => t.answered),
      frames: stage((t) => t.answered, (t) => t.framesOut),
      reply: stage((t) => t.framesOut, (t) => t.replied),
      total: stage((t) => t.arrived, (t) => t.replied),
    },
    databaseBusy: span > 0 ? busy / span : 0,
    answerToNextCut: summarize(answerToNextCut),
    sample,
  };
}

/** The summary as lines for the log. */
export function describeTrace(summary: SendTraceSummary): string[] {
  const p = (s: Summary) => `p50 ${s.p50.toFixed(2)} / p99 ${s.p99.toFixed(2)} / mean ${s.mean.toFixed(2)}`;
  const running = Object.entries(summary.runningAtCut)
    .map(([n, share]) => `${n}: ${(share * 100).toFixed(0)}%`)
    .join(', ');
  return [
    `${summary.sends} sends in ${summary.batches} statements (${summary.meanBatch.toFixed(1)} a statement); statements running when one was cut: ${running}`,
    `  request (arrival → queued)   ${p(summary.stages.request)} ms`,
    `  queue (queued → cut)         ${p(summary.stages.queue)} ms`,
    `  statement (cut → answered)   ${p(summary.stages.statement)} ms`,
    `  frames (answered → handed)   ${p(summary.stages.frames)} ms`,
    `  reply (frames → written)     ${p(summary.stages.reply)} ms`,
    `  total (arrival → written)    ${p(summary.stages.total)} ms`,
    `  a statement running ${(summary.databaseBusy * 100).toFixed(1)}% of the time; answer → next cut ${p(summary.answerToNextCut)} ms`,
    ...summary.sample.map((line) => `  ${line}`),
  ];
}

// `node dist-bench/send-trace.js FILE`: the summary of a trace written by hand (SEND_TRACE_FILE).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const summary = summarizeTrace(readTrace(process.argv[2]));
  console.log(summary ? describeTrace(summary).join('\n') : 'no complete send in the trace');
}
