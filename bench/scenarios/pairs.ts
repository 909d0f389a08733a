import { ErrorCounter, openSockets, type BenchSocket } from '../clients.js';
import type { BenchUser } from '../server.js';
import type { BenchContext } from './common.js';

/** A sender and a recipient, their direct conversation and one open socket each. */
export interface Pair {
  sender: BenchUser;
  recipient: BenchUser;
  conversationId: string;
  senderSocket: BenchSocket;
  recipientSocket: BenchSocket;
}

/**
 * Creates `count` direct conversations through the API (`POST /api/v1/conversations`) and
 * opens one socket per user: senders on `senderWs`, recipients on `recipientWs`.
 */
export async function setupPairs(ctx: BenchContext, users: BenchUser[], count: number): Promise<Pair[]> {
  const errors = new ErrorCounter();
  const created = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const sender = users[2 * i];
      const recipient = users[2 * i + 1];
      const result = await ctx.http.request('POST', '/api/v1/conversations', sender.token, { type: 'direct', userId: recipient.id });
      if (!errors.check('POST /api/v1/conversations', result)) return undefined;
      return { sender, recipient, conversationId: String(result.body.id) };
    }),
  );
  if (errors.total > 0) throw new Error(`could not create the direct conversations: ${errors.samples.join('; ')}`);
  const senders = await openSockets(created.map((pair) => pair!.sender), { url: ctx.senderWs.wsUrl, concurrency: 32 });
  const recipients = await openSockets(created.map((pair) => pair!.recipient), { url: ctx.recipientWs.wsUrl, concurrency: 32 });
  const failures = [...senders.failures.samples, ...recipients.failures.samples];
  if (failures.length > 0) throw new Error(`could not open the pairs' sockets: ${failures.join('; ')}`);
  const byUser = new Map<string, BenchSocket>();
  for (const socket of [...senders.sockets, ...recipients.sockets]) byUser.set(socket.userId, socket);
  return created.map((pair) => ({
    ...pair!,
    senderSocket: byUser.get(pair!.sender.id)!,
    recipientSocket: byUser.get(pair!.recipient.id)!,
  }));
}

export function pairSockets(pairs: Pair[]): BenchSocket[] {
  return pairs.flatMap((pair) => [pair.senderSocket, pair.recipientSocket]);
}
