import type { BatcherOptions } from '../common/batcher.js';

/**
 * How sends share statements, in one place: the server's MessagesRepository and the bench's raw
 * baseline (bench/raw-baseline.ts, which loads this file from dist/) both batch by these rules,
 * so that the baseline runs what the server runs.
 *
 * Sends that arrive while statements run are gathered into the next one, at most
 * SEND_BATCH_MAX to a statement. Up to `inFlight` statements (SEND_BATCHES_IN_FLIGHT; docs/performance.md
 * has the measurements behind its default) may run at once, each over conversations
 * that no other running statement touches: a conversation's sends go in arrival order, one
 * statement after another, so its seqs are gapless and in commit order, and a statement never
 * waits on another's conversation locks. Every other lock a send takes (the delivery jobs its
 * triggers wake) is taken in key order, so statements cannot deadlock.
 */
export const SEND_BATCH_MAX = 128;

/**
 * The fewest sends a statement starts with beside a running one. Each statement is a commit,
 * whose WAL flush costs about as much as its rows: a second statement pays off only once sends
 * pile up, and started for a few sends it split the batches and lost throughput
 * (docs/performance.md#statements-in-flight).
 */
export const SEND_MIN_BATCH_BESIDE = SEND_BATCH_MAX / 4;

export function sendBatching<Send extends { conversationId: string }>(
  inFlight: number,
): Pick<BatcherOptions<Send>, 'maxInFlight' | 'maxBatch' | 'minBatchBeside' | 'keyOf'> {
  return { maxInFlight: inFlight, maxBatch: SEND_BATCH_MAX, minBatchBeside: SEND_MIN_BATCH_BESIDE, keyOf: (send) => send.conversationId };
}
