import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { ErrorCounter, sleep, summarize, type Summary } from './clients.js';
import type { CpuUse } from './cpu.js';
import { closedLoops, rate, type Timing } from './scenarios/common.js';

/** What one send needs to know: the caller (as its token says) and the conversation. */
export interface SendInput {
  senderId: string;
  tokenVersion: number;
  conversationId: string;
  body: string;
}

/**
 * The SQL one `POST /api/v1/messages` (with `conversationId`, no `clientMessageId`) runs, as
 * the server runs it: one named prepared statement on a pool checkout.
 *
 * THIS MUST MIRROR THE SERVER'S SEND PATH. When the send path changes, change this function
 * with it, or the ratio the report prints compares different work. As of this writing the
 * route's guard checks only the token's signature (CallerCheckedByQuery), and the one
 * statement is `SEND` in src/messages/messages.repository.ts: it checks the caller is active at
 * its token version, takes the seq, stores the message and returns the members to notify.
 */
export async function sendStatements(pool: pg.Pool, input: SendInput): Promise<void> {
  const message = await pool.query({
    name: 'bench_send',
    text: `WITH conversation AS (
             UPDATE conversations
                SET last_seq = last_seq + 1, last_change_seq = last_change_seq + 1, updated_at = now()
              WHERE id = $1
                AND EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = $2)
                AND EXISTS (SELECT 1 FROM users WHERE id = $2 AND active AND token_version = $5)
             RETURNING id, last_seq, last_change_seq
           ), sender_read AS (
             UPDATE conversation_members me SET last_read_seq = conversation.last_seq
               FROM conversation WHERE me.conversation_id = conversation.id AND me.user_id = $2
           ), message AS (
             INSERT INTO messages (conversation_id, seq, change_seq, sender_id, body, client_message_id)
             SELECT id, last_seq, last_change_seq, $2, $3, $4 FROM conversation
             RETURNING *
           )
           SELECT id, conversation_id AS "conversationId", seq, change_seq AS "changeSeq", sender_id AS "senderId",
                  body, client_message_id AS "clientMessageId", created_at AS "createdAt",
                  edited_at AS "editedAt", deleted_at AS "deletedAt",
                  conversation_member_ids(conversation_id) AS "memberIds"
             FROM message`,
    values: [input.conversationId, input.senderId, input.body, null, input.tokenVersion],
  });
  if (message.rowCount !== 1) throw new Error(`conversation ${input.conversationId} took no message`);
}

export interface RawBaselineResult {
  loops: number;
  poolSize: number;
  messages: number;
  messagesPerSecond: number;
  latencyMs: Summary;
  errors: ReturnType<ErrorCounter['toJSON']>;
  capped: boolean;
  cpu?: CpuUse;
}

/**
 * Scenario 5: `sendStatements` in `loops` closed loops straight through `pg`, with the server's
 * pool size, into the same direct conversations the Parley senders use: the database's share
 * of a send, without HTTP, Nest, JSON or sockets.
 */
export async function rawBaseline(
  databaseUrl: string,
  poolSize: number,
  inputs: Omit<SendInput, 'body'>[],
  timing: Timing,
): Promise<RawBaselineResult> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  pool.on('error', () => undefined);
  const errors = new ErrorCounter();
  const latencies: number[] = [];
  let ok = 0;
  try {
    const window = await closedLoops(inputs.length, timing, async (worker, w) => {
      const t0 = performance.now();
      try {
        await sendStatements(pool, { ...inputs[worker], body: `raw baseline from ${worker}` });
        const t1 = performance.now();
        if (t0 >= w.measureStart && t1 <= w.end) {
          ok++;
          latencies.push(t1 - t0);
        }
      } catch (error) {
        errors.add('raw baseline', (error as Error).message);
        await sleep(10);
      }
    });
    if (window.capped) errors.add('phase hit its hard cap');
    return {
      loops: inputs.length,
      poolSize,
      messages: ok,
      messagesPerSecond: rate(ok, timing.measureMs),
      latencyMs: summarize(latencies),
      errors: errors.toJSON(),
      capped: window.capped,
    };
  } finally {
    await pool.end();
  }
}
