import { performance } from 'node:perf_hooks';
import { ErrorCounter, closeSockets, openSockets, sleep, summarize, type Summary } from '../clients.js';
import type { CpuUse } from '../cpu.js';
import type { BenchUser } from '../server.js';
import { closedLoops, rate, type BenchContext } from './common.js';

export interface ReactionsResult {
  togglers: number;
  hotMessages: number;
  /** Members holding a socket (the group's owner, the probe and some togglers). */
  watchers: number;
  /** Toggles answered 204 within the measured window. */
  toggles: number;
  togglesPerSecond: number;
  /** Each measured toggle's PUT or DELETE, ms. */
  httpMs: Summary;
  /** The probe's toggles: PUT/DELETE start → the watcher's message.updated frame, ms. */
  notificationMs: Summary;
  probeToggles: number;
  /** message.updated frames for the hot messages at one watcher, per second of the window. */
  hotFramesPerSecond: number;
  /** Toggles per such frame: how many changes one frame (one batch's change) carried. */
  togglesPerFrame: number;
  /** Hot messages whose counts, read after the phase, differ from the toggles answered 204. */
  countMismatches: number;
  lost: number;
  duplicated: number;
  stray: number;
  errors: ReturnType<ErrorCounter['toJSON']>;
  capped: boolean;
  deliverySamples: string[];
  cpu?: CpuUse;
}

const EMOJI = ['👍', '❤️', '😂', '🎉'];
/** Togglers that also hold a socket, beside the owner (the watcher) and the probe. */
const TOGGLERS_WITH_SOCKETS = 6;
const NOTIFICATION_TIMEOUT_MS = 5000;

type Frame = { type?: string; id?: string; changeSeq?: number };

/**
 * Issue 29's reactions phase: `togglers` users in one group toggle reactions (four emoji) on
 * `hotMessages` of its messages in closed loops, each its own reactions only, as fast as they
 * are answered; the figure is toggles answered 204 per second. Every toggle of a batch that
 * changes a message moves it once, so its members get a frame per batch, not per toggle.
 *
 * Notification latency needs a frame that belongs to one toggle: a probe member toggles one
 * more message of the group that nobody else touches, one toggle at a time, and the owner's
 * socket times each of its frames from the toggle's start. The probe's toggles go through the
 * same batches, lock and fan-out as the load's. Afterwards every hot message's counts must be
 * what the answered toggles add up to.
 */
export async function reactions(ctx: BenchContext, users: BenchUser[], hotMessages: number): Promise<ReactionsResult> {
  const errors = new ErrorCounter();
  const [owner, probe, ...togglers] = users;
  const group = await ctx.http.request('POST', '/api/v1/conversations', owner.token, {
    type: 'group',
    title: 'bench reactions',
    memberIds: [probe, ...togglers].map((user) => user.id),
  });
  if (!errors.check('POST /api/v1/conversations (group)', group)) {
    throw new Error(`could not create the reactions group: HTTP ${group.status} ${JSON.stringify(group.body).slice(0, 300)}`);
  }
  const conversationId = String(group.body.id);
  const messageIds: string[] = [];
  for (let i = 0; i <= hotMessages; i++) {
    const sent = await ctx.http.request('POST', '/api/v1/messages', owner.token, { conversationId, body: `bench hot message ${i}` });
    if (!errors.check('POST /api/v1/messages', sent)) throw new Error(`could not post the hot messages: HTTP ${sent.status}`);
    messageIds.push(String(sent.body.id));
  }
  const probeMessageId = messageIds.pop()!;
  const hot = new Set(messageIds);

  // Opened after the messages exist, so that no frame of the setup is in flight.
  const opened = await openSockets([owner, probe, ...togglers.slice(0, TOGGLERS_WITH_SOCKETS)], { url: ctx.recipientWs.wsUrl, concurrency: 16 });
  if (opened.failures.total > 0) {
    closeSockets(opened.sockets);
    throw new Error(`could not open the watchers' sockets: ${opened.failures.samples.join('; ')}`);
  }
  const watcher = opened.sockets.find((socket) => socket.userId === owner.id)!;

  let window = { measureStart: Infinity, end: Infinity };
  let hotFrames = 0;
  let strayFrames = 0;
  const deliverySamples: string[] = [];
  // The probe's frames, one per probe toggle: arrival times in order, and who waits for the next.
  const probeArrivals: { changeSeq: number; at: number }[] = [];
  let probeWaiter: (() => void) | undefined;
  watcher.ws.on('message', (data) => {
    const at = performance.now();
    const frame = parse(data as Buffer);
    if (frame?.type !== 'message.updated' || typeof frame.id !== 'string') return;
    if (frame.id === probeMessageId) {
      probeArrivals.push({ changeSeq: frame.changeSeq ?? 0, at });
      probeWaiter?.();
    } else if (hot.has(frame.id)) {
      if (at >= window.measureStart && at <= window.end) hotFrames++;
    } else {
      strayFrames++;
      if (deliverySamples.length < 5) deliverySamples.push(`stray: message.updated for message ${frame.id}, not one of this phase's`);
    }
  });

  /** Per toggler, the emoji it has on each hot message (as answered). */
  const state = togglers.map(() => new Map<string, Set<string>>());
  const httpMs: number[] = [];
  const notificationMs: number[] = [];
  let toggles = 0;
  let probeToggles = 0;
  let probeOn = false;
  let lost = 0;

  const loops = await closedLoops(togglers.length + 1, ctx.timing, async (worker, w) => {
    window = w;
    if (worker === togglers.length) {
      // The probe: one toggle, then its frame, then the next.
      const seen = probeArrivals.length;
      const t0 = performance.now();
      const path = `/api/v1/messages/${probeMessageId}/reactions/${encodeURIComponent('👀')}`;
      try {
        const answer = await ctx.http.request(probeOn ? 'DELETE' : 'PUT', path, probe.token);
        if (!errors.check(`${probeOn ? 'DELETE' : 'PUT'} reaction (probe)`, answer)) return void (await sleep(10));
        probeOn = !probeOn;
        if (probeArrivals.length === seen) {
          const arrived = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), NOTIFICATION_TIMEOUT_MS);
            probeWaiter = () => {
              clearTimeout(timer);
              resolve(true);
            };
          });
          probeWaiter = undefined;
          if (!arrived) {
            lost++;
            if (deliverySamples.length < 5) deliverySamples.push(`lost: no message.updated for the probe's toggle within ${NOTIFICATION_TIMEOUT_MS} ms`);
            return;
          }
        }
        const arrival = probeArrivals[seen];
        if (t0 >= w.measureStart && arrival.at <= w.end) {
          probeToggles++;
          notificationMs.push(arrival.at - t0);
        }
      } catch (error) {
        errors.add('probe network error', (error as Error).message);
        await sleep(10);
      }
      return;
    }
    const messageId = messageIds[Math.floor(Math.random() * messageIds.length)];
    const emoji = EMOJI[Math.floor(Math.random() * EMOJI.length)];
    const mine = state[worker].get(messageId) ?? new Set<string>();
    state[worker].set(messageId, mine);
    const removing = mine.has(emoji);
    const t0 = performance.now();
    try {
      const answer = await ctx.http.request(removing ? 'DELETE' : 'PUT', `/api/v1/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`, togglers[worker].token);
      const t1 = performance.now();
      if (!errors.check(`${removing ? 'DELETE' : 'PUT'} /api/v1/messages/:id/reactions/:emoji`, answer)) return void (await sleep(10));
      if (removing) mine.delete(emoji);
      else mine.add(emoji);
      if (t0 >= w.measureStart && t1 <= w.end) {
        toggles++;
        httpMs.push(t1 - t0);
      }
    } catch (error) {
      errors.add('network error', (error as Error).message);
      await sleep(10);
    }
  });
  if (loops.capped) errors.add('phase hit its hard cap');

  // Each probe toggle moves its message's change seq once: a frame with a change seq seen
  // before is a duplicate.
  await sleep(200);
  const duplicated = probeArrivals.length - new Set(probeArrivals.map((arrival) => arrival.changeSeq)).size;
  let countMismatches = 0;
  for (const messageId of messageIds) {
    const read = await ctx.http.request('GET', `/api/v1/messages/${messageId}`, owner.token);
    if (!errors.check('GET /api/v1/messages/:id', read)) continue;
    const held = new Map<string, number>((read.body.reactions as { emoji: string; count: number }[]).map((r) => [r.emoji, r.count]));
    for (const emoji of EMOJI) {
      const expected = state.reduce((sum, byMessage) => sum + (byMessage.get(messageId)?.has(emoji) ? 1 : 0), 0);
      if ((held.get(emoji) ?? 0) !== expected) {
        countMismatches++;
        if (deliverySamples.length < 5) deliverySamples.push(`count: message ${messageId} shows ${held.get(emoji) ?? 0} ${emoji}, the answered toggles add up to ${expected}`);
        break;
      }
    }
  }
  closeSockets(opened.sockets);
  const hotFramesPerSecond = rate(hotFrames, ctx.timing.measureMs);
  return {
    togglers: togglers.length,
    hotMessages: messageIds.length,
    watchers: opened.sockets.length,
    toggles,
    togglesPerSecond: rate(toggles, ctx.timing.measureMs),
    httpMs: summarize(httpMs),
    notificationMs: summarize(notificationMs),
    probeToggles,
    hotFramesPerSecond,
    togglesPerFrame: hotFrames > 0 ? toggles / hotFrames : NaN,
    countMismatches,
    lost,
    duplicated,
    stray: strayFrames,
    errors: errors.toJSON(),
    capped: loops.capped,
    deliverySamples,
  };
}

function parse(data: Buffer): Frame | undefined {
  try {
    return JSON.parse(data.toString()) as Frame;
  } catch {
    return undefined;
  }
}
