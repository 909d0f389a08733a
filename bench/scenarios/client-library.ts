import { performance } from 'node:perf_hooks';
import { ParleyClient } from '@parley/client/node';
import { ErrorCounter, sleep, summarize, type Summary } from '../clients.js';
import type { CpuUse } from '../cpu.js';
import type { BenchUser } from '../server.js';
import { closedLoops, rate, type BenchContext } from './common.js';

export interface ClientLibraryResult {
  conversations: number;
  /** Messages sent while the client was away. */
  missed: number;
  /** connect() → the last missed message emitted, ms. */
  catchUpMs: number;
  catchUpPerSecond: number;
  liveSenders: number;
  /** Messages the client emitted per second while the senders posted. */
  liveMessagesPerSecond: number;
  /** POST start → the client's `message` event, ms. */
  liveMs: Summary;
  lost: number;
  duplicated: number;
  /** Messages emitted out of seq order within their conversation. */
  stray: number;
  errors: ReturnType<ErrorCounter['toJSON']>;
  capped: boolean;
  deliverySamples: string[];
  cpu?: CpuUse;
}

/**
 * @parley/client (packages/client, built), as an application uses it: one user in a direct
 * conversation with each sender. Catch-up: the client is away while the senders post `missed`
 * messages; then connect() until it has emitted every one. Live: closed-loop senders while it
 * is connected, POST start → its `message` event (a GET by id behind each notification). Each
 * message must be emitted once, and in seq order within its conversation.
 */
export async function clientLibrary(ctx: BenchContext, reader: BenchUser, senders: BenchUser[], missed: number): Promise<ClientLibraryResult> {
  const errors = new ErrorCounter();
  const conversationOf = new Map<BenchUser, string>();
  for (const sender of senders) {
    const created = await ctx.http.request('POST', '/api/v1/conversations', sender.token, { type: 'direct', userId: reader.id });
    if (!errors.check('POST /api/v1/conversations', created)) throw new Error(`could not create a conversation: ${errors.samples.join('; ')}`);
    conversationOf.set(sender, String(created.body.id));
  }

  const client = new ParleyClient({ baseUrl: `http://127.0.0.1:${ctx.recipientWs.port}`, token: reader.token });
  const emittedAt = new Map<string, number>();
  const lastSeq = new Map<string, number>();
  let duplicated = 0;
  let outOfOrder = 0;
  const samples: string[] = [];
  client.on('message', (message) => {
    if (emittedAt.has(message.id) && ++duplicated <= 5) samples.push(`message ${message.id} emitted twice`);
    if (!emittedAt.has(message.id)) emittedAt.set(message.id, performance.now());
    const previous = lastSeq.get(message.conversationId);
    if (previous !== undefined && message.seq !== previous + 1 && ++outOfOrder <= 5) {
      samples.push(`conversation ${message.conversationId}: seq ${message.seq} after ${previous}`);
    }
    lastSeq.set(message.conversationId, message.seq);
  });
  client.on('error', (error) => errors.add(`client: ${error.error}`, error.message));

  const sent = new Map<string, number>();
  const post = async (sender: BenchUser, body: string): Promise<string | undefined> => {
    const t0 = performance.now();
    try {
      const answer = await ctx.http.request('POST', '/api/v1/messages', sender.token, { conversationId: conversationOf.get(sender), body });
      if (!errors.check('POST /api/v1/messages', answer)) return undefined;
      const id = String(answer.body.id);
      sent.set(id, t0);
      return id;
    } catch (error) {
      errors.add('network error', (error as Error).message);
      return undefined;
    }
  };
  const waitForAll = async (ids: string[], graceMs: number) => {
    const deadline = performance.now() + graceMs;
    while (ids.some((id) => !emittedAt.has(id)) && performance.now() < deadline) await sleep(10);
  };

  try {
    await client.connect();
    client.disconnect();
    const perSender = Math.ceil(missed / senders.length);
    const away = (
      await Promise.all(
        senders.map(async (sender, s) => {
          const ids: string[] = [];
          for (let i = 0; i < perSender; i++) {
            const id = await post(sender, `bench catch-up ${s}-${i}`);
            if (id) ids.push(id);
          }
          return ids;
        }),
      )
    ).flat();
    const reconnected = performance.now();
    await client.connect();
    await waitForAll(away, ctx.timing.graceMs);
    const lastEmitted = Math.max(...away.map((id) => emittedAt.get(id) ?? Number.NaN));
    const catchUpMs = away.every((id) => emittedAt.has(id)) ? lastEmitted - reconnected : Number.NaN;

    const live: string[] = [];
    const window = await closedLoops(senders.length, ctx.timing, async (worker) => {
      const id = await post(senders[worker], `bench live ${worker}`);
      if (id) live.push(id);
      else await sleep(10);
    });
    await waitForAll(live, ctx.timing.graceMs);
    const measured = live.filter((id) => sent.get(id)! >= window.measureStart && sent.get(id)! <= window.end);
    const liveMs = measured.filter((id) => emittedAt.has(id)).map((id) => emittedAt.get(id)! - sent.get(id)!);
    if (window.capped) errors.add('phase hit its hard cap');
    const lost = [...sent.keys()].filter((id) => !emittedAt.has(id));
    samples.push(...lost.slice(0, 5).map((id) => `message ${id} never emitted`));
    return {
      conversations: senders.length,
      missed: away.length,
      catchUpMs,
      catchUpPerSecond: rate(away.length, catchUpMs),
      liveSenders: senders.length,
      liveMessagesPerSecond: rate(liveMs.length, ctx.timing.measureMs),
      liveMs: summarize(liveMs),
      lost: lost.length,
      duplicated,
      stray: outOfOrder,
      errors: errors.toJSON(),
      capped: window.capped,
      deliverySamples: samples,
    };
  } finally {
    client.close();
  }
}
