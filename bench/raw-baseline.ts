import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { ErrorCounter, sleep, summarize, type Summary } from './clients.js';
import type { CpuUse } from './cpu.js';
import { closedLoops, rate, type Timing } from './scenarios/common.js';

/** What one send needs to know: the caller (as its token says) and the conversation. */
export interface SendInput {
  senderId: string;
  tokenVersion: number;
  sessionId: string;
  conversationId: string;
  body: string;
}

/** The server's Batcher (src/common/batcher.ts), as far as the baseline uses it. */
interface ServerBatcher<In> {
  submit(input: In): Promise<unknown>;
}
type BatcherClass = new <In>(run: (inputs: In[]) => Promise<unknown[]>, options: object) => ServerBatcher<In>;

/** How the server under test gathers sends into statements: its own code, loaded from its dist/. */
export interface ServerSendBatching {
  Batcher: BatcherClass;
  /** `sendBatching(inFlight)` of src/messages/send-batching.ts. */
  rules: object;
  inFlight: number;
}

/**
 * Loads the send path's batching from the built server in `serverDir` (the harness compiles
 * apart from src/ and runs against whatever dist/ a checkout builds), with SEND_BATCHES_IN_FLIGHT
 * read as the server reads it from `env`.
 */
export async function serverSendBatching(serverDir: string, env: Record<string, string | undefined>): Promise<ServerSendBatching> {
  const load = (file: string) => import(pathToFileURL(path.join(serverDir, 'dist/src', file)).href);
  const { Batcher } = await load('common/batcher.js');
  // A build from before send-batching.ts (BENCH_SERVER_DIR) ran one statement of at most 128.
  const rules = await load('messages/send-batching.js').catch(() => undefined);
  if (!rules) return { Batcher, rules: { maxInFlight: 1, maxBatch: 128 }, inFlight: 1 };
  const { CONFIG_VARIABLES } = await load('config/app-config.js');
  const variable = (CONFIG_VARIABLES as { name: string; parse: (raw: string | undefined, name: string, config: object) => number }[]).find(
    (entry) => entry.name === 'SEND_BATCHES_IN_FLIGHT',
  )!;
  const inFlight = variable.parse(env.SEND_BATCHES_IN_FLIGHT, variable.name, {});
  return { Batcher, rules: rules.sendBatching(inFlight), inFlight };
}

/**
 * The SQL the server runs for `POST /api/v1/messages` (with `conversationId`, no
 * `clientMessageId`), run as the server runs it: through the server's own Batcher with the
 * server's own batching rules (ServerSendBatching), a named prepared statement on a pool checkout.
 *
 * THIS MUST MIRROR THE SERVER'S SEND PATH. When the send path changes, change this with it,
 * or the ratio the report prints compares different work. As of this writing the route's
 * guard checks only the token's signature (CallerCheckedByQuery), and the send is
 * `MessagesRepository.insert` (src/messages/messages.repository.ts): `SEND_BATCH` through a
 * `Batcher` with `sendBatching` (src/messages/send-batching.ts), calling the `send_messages`
 * function of the migrations. After publishing, the server clears the fan-out outbox rows of
 * what it published every 100 ms (FanoutRelay): so does this, by the ids stored.
 */
export class BatchedSends {
  private readonly batcher: ServerBatcher<SendInput>;
  private statements = 0;
  private sends = 0;
  private stored: string[] = [];
  private readonly clearing: NodeJS.Timeout;

  constructor(
    private readonly pool: pg.Pool,
    batching: ServerSendBatching,
  ) {
    this.batcher = new batching.Batcher<SendInput>((inputs) => this.statement(inputs), {
      ...batching.rules,
      // Nothing is refused here (no clientMessageId, every sender a member): a failure fails its batch.
      canRetryAlone: () => false,
    });
    this.clearing = setInterval(() => void this.clear(), 100);
  }

  /** Stops clearing, after clearing what is left. */
  async close(): Promise<void> {
    clearInterval(this.clearing);
    await this.clear();
  }

  private async clear(): Promise<void> {
    if (this.stored.length === 0) return;
    const ids = this.stored;
    this.stored = [];
    await this.pool.query(`DELETE FROM fanout_outbox WHERE first_id = ANY ($1::bigint[])`, [ids]).catch(() => undefined);
  }

  /** Sends per statement so far, as the server's /metrics gives its own. */
  get meanBatch(): number {
    return this.statements > 0 ? this.sends / this.statements : NaN;
  }

  async send(input: SendInput): Promise<void> {
    const stored = await this.batcher.submit(input);
    if (!stored) throw new Error(`conversation ${input.conversationId} took no message`);
  }

  private async statement(inputs: SendInput[]): Promise<boolean[]> {
    this.statements++;
    this.sends += inputs.length;
    const result = await this.pool.query({
      name: 'bench_send_batch',
      text: `SELECT item, id, conversation_id AS "conversationId", seq, change_seq AS "changeSeq", sender_id AS "senderId",
                    body, client_message_id AS "clientMessageId", created_at AS "createdAt",
                    edited_at AS "editedAt", deleted_at AS "deletedAt", member_ids AS "memberIds"
               FROM send_messages($1::bigint[], $2::bigint[], $3::integer[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::text[])`,
      values: [
        inputs.map((input) => input.conversationId),
        inputs.map((input) => input.senderId),
        inputs.map((input) => input.tokenVersion),
        inputs.map((input) => input.sessionId),
        inputs.map((input) => input.body),
        inputs.map(() => null),
        // No replies; the bench's bodies name nobody, so the server passes no mentions either.
        inputs.map(() => null),
        inputs.map(() => null),
      ],
    });
    for (const row of result.rows) if (row.item !== null) this.stored.push(String(row.id));
    const stored = new Set(result.rows.map((row) => Number(row.item)));
    return inputs.map((_, i) => stored.has(i + 1));
  }
}

export interface RawBaselineResult {
  /** Whether it ran just before or just after Parley's K=64 phase. */
  when: 'before' | 'after';
  loops: number;
  poolSize: number;
  /** Statements in flight at most, as the server's SEND_BATCHES_IN_FLIGHT. */
  inFlight: number;
  messages: number;
  messagesPerSecond: number;
  latencyMs: Summary;
  errors: ReturnType<ErrorCounter['toJSON']>;
  capped: boolean;
  /** Sends per statement over the whole phase, warm-up included. */
  meanBatch: number;
  cpu?: CpuUse;
}

/**
 * Scenario 5: `BatchedSends` in `loops` closed loops straight through `pg`, on a pool of the
 * server's size, into the same direct conversations the Parley senders use: the database's
 * share of a send, without HTTP, Nest, JSON or sockets. The caller owns the pool, and ends it
 * after reading the phase's CPU: the backends' time is lost once they exit.
 */
export async function rawBaseline(
  pool: pg.Pool,
  inputs: Omit<SendInput, 'body'>[],
  timing: Timing,
  when: RawBaselineResult['when'],
  batching: ServerSendBatching,
): Promise<RawBaselineResult> {
  const sends = new BatchedSends(pool, batching);
  const errors = new ErrorCounter();
  const latencies: number[] = [];
  let ok = 0;
  const window = await closedLoops(inputs.length, timing, async (worker, w) => {
    const t0 = performance.now();
    try {
      await sends.send({ ...inputs[worker], body: `raw baseline from ${worker}` });
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
  await sends.close();
  if (window.capped) errors.add('phase hit its hard cap');
  return {
    when,
    loops: inputs.length,
    poolSize: pool.options.max,
    inFlight: batching.inFlight,
    messages: ok,
    messagesPerSecond: rate(ok, timing.measureMs),
    latencyMs: summarize(latencies),
    errors: errors.toJSON(),
    capped: window.capped,
    meanBatch: sends.meanBatch,
  };
}
