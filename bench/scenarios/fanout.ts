import { performance } from 'node:perf_hooks';
import { ErrorCounter, closeSockets, openSockets, sleep, summarize, type Summary } from '../clients.js';
import type { CommitProbeResult } from '../commit-probe.js';
import type { CpuUse } from '../cpu.js';
import type { BenchUser } from '../server.js';
import { settleAndCheck, type BenchContext, type SentMessage } from './common.js';

export interface FanoutResult {
  members: number;
  repeats: number;
  /** POST start → the last member's frame, ms. */
  lastMemberMs: Summary;
  /** The first member's frame → the last member's: the spreading out alone, ms. */
  spreadMs: Summary;
  /** The owner's POST alone, ms. */
  httpMs: Summary;
  /** Each measured repeat from its POST's start to its last member's frame (performance.now()). */
  windows: Array<{ start: number; end: number }>;
  lost: number;
  duplicated: number;
  stray: number;
  groupCreatedVia: string;
  errors: ReturnType<ErrorCounter['toJSON']>;
  deliverySamples: string[];
  cpu?: CpuUse;
  /** The database's own commits meanwhile (run.ts). */
  databaseCommits?: CommitProbeResult;
}

const WARMUP_REPEATS = 3;
const REPEAT_TIMEOUT_MS = 10_000;

/**
 * Scenario 3: one message into a group whose every member (owner included) has one socket open;
 * the figure is the time from the POST's start until the last member has its frame. Repeats run
 * one after another, so each measures an otherwise idle fan-out.
 */
export async function fanout(ctx: BenchContext, members: BenchUser[], repeats: number): Promise<FanoutResult> {
  const errors = new ErrorCounter();
  const [owner, ...others] = members;
  // The DTO takes up to 1,000 memberIds (MAX_MEMBERS_PER_REQUEST), so one API call makes the group.
  const created = await ctx.http.request('POST', '/api/v1/conversations', owner.token, {
    type: 'group',
    title: `bench fan-out ${members.length}`,
    memberIds: others.map((user) => user.id),
  });
  if (!errors.check('POST /api/v1/conversations (group)', created)) {
    throw new Error(`could not create the ${members.length}-member group: HTTP ${created.status} ${JSON.stringify(created.body).slice(0, 300)}`);
  }
  const conversationId = String(created.body.id);
  const memberCount = created.body.memberIds?.length;
  if (memberCount !== members.length) throw new Error(`the group has ${memberCount} members, expected ${members.length}`);

  // Opened after the group exists, so no conversation.updated frames are in flight.
  const opened = await openSockets(members, { url: ctx.recipientWs.wsUrl, concurrency: 200 });
  if (opened.failures.total > 0) {
    closeSockets(opened.sockets);
    throw new Error(`could not open the group's sockets: ${opened.failures.samples.join('; ')}`);
  }
  const sockets = opened.sockets;

  // Counts first arrivals per message id across all members; wakes the waiter at the last one.
  const arrivals = new Map<string, { count: number; first: number; last: number }>();
  const waiters = new Map<string, () => void>();
  for (const socket of sockets) {
    socket.onArrival = (id, at) => {
      let entry = arrivals.get(id);
      if (!entry) arrivals.set(id, (entry = { count: 0, first: at, last: 0 }));
      entry.count++;
      if (at > entry.last) entry.last = at;
      if (entry.count === sockets.length) waiters.get(id)?.();
    };
  }
  const allArrived = (id: string) =>
    new Promise<boolean>((resolve) => {
      if (arrivals.get(id)?.count === sockets.length) return resolve(true);
      const timer = setTimeout(() => resolve(false), REPEAT_TIMEOUT_MS);
      waiters.set(id, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });

  const sent: SentMessage[] = [];
  const spreadMs: number[] = [];
  const httpMs: number[] = [];
  const windows: FanoutResult['windows'] = [];
  for (let repeat = 0; repeat < WARMUP_REPEATS + repeats; repeat++) {
    const measured = repeat >= WARMUP_REPEATS;
    const t0 = performance.now();
    try {
      const result = await ctx.http.request('POST', '/api/v1/messages', owner.token, { conversationId, body: `bench fan-out ${repeat}` });
      const t1 = performance.now();
      if (!errors.check('POST /api/v1/messages (group)', result)) continue;
      const id = String(result.body.id);
      sent.push({ id, t0, sockets, measured });
      if (!(await allArrived(id))) {
        errors.add(`fan-out: not every member had message ${id} within ${REPEAT_TIMEOUT_MS} ms`);
      } else if (measured) {
        const { first, last } = arrivals.get(id)!;
        spreadMs.push(last - first);
        httpMs.push(t1 - t0);
        windows.push({ start: t0, end: last });
      }
      waiters.delete(id);
    } catch (error) {
      errors.add('POST /api/v1/messages (group) network error', (error as Error).message);
    }
    await sleep(20);
  }
  const delivery = await settleAndCheck(sent, sockets, ctx.timing.graceMs);
  closeSockets(sockets);
  return {
    members: members.length,
    repeats,
    lastMemberMs: summarize(windows.map((window) => window.end - window.start)),
    spreadMs: summarize(spreadMs),
    httpMs: summarize(httpMs),
    windows,
    lost: delivery.lost,
    duplicated: delivery.duplicated,
    stray: delivery.stray,
    groupCreatedVia: 'API (one POST /api/v1/conversations with all memberIds)',
    errors: errors.toJSON(),
    deliverySamples: delivery.samples,
  };
}
