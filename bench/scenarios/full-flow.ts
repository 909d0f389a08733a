import { performance } from 'node:perf_hooks';
import { ErrorCounter, sleep, summarize, type Summary } from '../clients.js';
import type { CpuUse } from '../cpu.js';
import { closedLoops, rate, settleAndCheck, type BenchContext, type SentMessage } from './common.js';
import { pairSockets, type Pair } from './pairs.js';

export interface FullFlowResult {
  senders: number;
  flows: number;
  messagesPerSecond: number;
  /** POST start → the recipient's GET complete, ms. */
  flowMs: Summary;
  lost: number;
  duplicated: number;
  stray: number;
  errors: ReturnType<ErrorCounter['toJSON']>;
  capped: boolean;
  deliverySamples: string[];
  cpu?: CpuUse;
}

/** How long a flow waits for the recipient's notification before counting an error. */
const NOTIFICATION_TIMEOUT_MS = 5000;

/**
 * Scenario 2, narrowfail's loop end to end: the sender POSTs, the recipient's socket gets the
 * id, the recipient GETs `/api/v1/messages/:id` (and it must be that message). One closed loop
 * per pair.
 */
export async function fullFlow(ctx: BenchContext, pairs: Pair[], senders: number): Promise<FullFlowResult> {
  const errors = new ErrorCounter();
  const sent: SentMessage[] = [];
  const flowMs: number[] = [];
  let ok = 0;
  const window = await closedLoops(senders, ctx.timing, async (worker, w) => {
    const pair = pairs[worker];
    const body = `bench flow from ${worker}`;
    const t0 = performance.now();
    try {
      const post = await ctx.http.request('POST', '/api/v1/messages', pair.sender.token, { conversationId: pair.conversationId, body });
      if (!errors.check('POST /api/v1/messages', post)) return void (await sleep(10));
      const id = String(post.body.id);
      const measured = t0 >= w.measureStart;
      sent.push({ id, t0, sockets: [pair.senderSocket, pair.recipientSocket], measured });
      if (!(await pair.recipientSocket.waitFor(id, NOTIFICATION_TIMEOUT_MS))) {
        errors.add(`notification not received within ${NOTIFICATION_TIMEOUT_MS} ms`, `message ${id}`);
        return;
      }
      const get = await ctx.http.request('GET', `/api/v1/messages/${id}`, pair.recipient.token);
      const t1 = performance.now();
      if (!errors.check('GET /api/v1/messages/:id', get)) return void (await sleep(10));
      if (String(get.body.id) !== id || get.body.body !== body) {
        errors.add('GET /api/v1/messages/:id answered another message', JSON.stringify(get.body).slice(0, 200));
        return;
      }
      if (measured && t1 <= w.end) {
        ok++;
        flowMs.push(t1 - t0);
      }
    } catch (error) {
      errors.add('network error', (error as Error).message);
      await sleep(10);
    }
  });
  const delivery = await settleAndCheck(sent, pairSockets(pairs), ctx.timing.graceMs);
  if (window.capped) errors.add('phase hit its hard cap');
  return {
    senders,
    flows: ok,
    messagesPerSecond: rate(ok, ctx.timing.measureMs),
    flowMs: summarize(flowMs),
    lost: delivery.lost,
    duplicated: delivery.duplicated,
    stray: delivery.stray,
    errors: errors.toJSON(),
    capped: window.capped,
    deliverySamples: delivery.samples,
  };
}
