import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ServerFrame } from '../notifications/frames.js';
import { RETRY_WINDOW_HOURS } from '../deliveries/retry-policy.js';
import { JobQueue } from '../jobs/job-queue.js';

/** A frame waiting for a bot's webhook, with where it goes. */
export interface WaitingDelivery {
  id: string;
  deliveryId: string;
  /** The frame's JSON, as written: the body that is signed and sent. */
  frame: string;
  url: string;
  secret: string;
}

/** A frame read by a shard run: a waiting delivery and its bot. */
export interface ShardDelivery extends WaitingDelivery {
  botId: string;
}

/** What a shard run did for one bot: the frames delivered, and whether its request is still in flight. */
export interface ShardRunRecord {
  botId: string;
  delivered: readonly string[];
  leased: boolean;
}

/**
 * How long a bot stays leased to the request a shard run left in flight: longer than any
 * request may take (10 s), so that only an instance that died lets it lapse.
 */
const LEASE_SECONDS = 30;
/** A retry-lane run's lease, renewed while it runs (see WebhookDeliverer.runRetryLane). */
const RETRY_LEASE_SECONDS = 60;

/** A webhook's health, for the admin. */
export interface WebhookHealthRow {
  botId: string;
  username: string;
  ownerId: string | null;
  url: string;
  createdAt: Date;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
  failuresInARow: number;
  waiting: number;
  deadLetters: number;
}

/** Every statement on `webhooks` and `webhook_deliveries`. */
@Injectable()
export class WebhooksRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobQueue,
  ) {}

  /**
   * Sets (or replaces) an active bot's webhook, with a fresh secret and health, and marks its
   * memberships so that sends find it. False when `ownerId` has no active bot by that id.
   */
  set(ownerId: string, botId: string, url: string, secret: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const [bot] = await manager.query(
        `SELECT id FROM users WHERE id = $1 AND owner_id = $2 AND bot AND active FOR UPDATE`,
        [botId, ownerId],
      );
      if (!bot) return false;
      await manager.query(
        `INSERT INTO webhooks (bot_id, url, secret) VALUES ($1, $2, $3)
         ON CONFLICT (bot_id) DO UPDATE
           SET url = excluded.url, secret = excluded.secret, created_at = now(), last_success_at = NULL,
               last_failure_at = NULL, last_error = NULL, failures_in_a_row = 0, failing_since = NULL`,
        [botId, url, secret],
      );
      await manager.query(`UPDATE conversation_members SET webhook = true WHERE user_id = $1 AND NOT webhook`, [botId]);
      return true;
    });
  }

  /** Removes a bot's webhook and what was waiting for it; false when there was none to remove. */
  remove(ownerId: string, botId: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const [removed] = await manager.query(
        `WITH removed AS (
           DELETE FROM webhooks w USING users u
            WHERE w.bot_id = $1 AND u.id = w.bot_id AND u.owner_id = $2
           RETURNING w.bot_id
         ) SELECT bot_id FROM removed`,
        [botId, ownerId],
      );
      if (!removed) return false;
      await manager.query(`UPDATE conversation_members SET webhook = false WHERE user_id = $1 AND webhook`, [botId]);
      return true;
    });
  }

  /** Every bot that has a webhook. */
  async botIds(): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(`SELECT bot_id::text AS id FROM webhooks`);
    return rows.map((row) => row.id);
  }

  /**
   * Queues `frame` for those of `userIds` that are bots with a webhook, and wakes their shards'
   * jobs, in one statement: for the frames made outside a message's insert (see WebhookFrames).
   */
  async enqueue(userIds: readonly string[], frame: ServerFrame): Promise<void> {
    await this.dataSource.query(
      `WITH queued AS (
         INSERT INTO webhook_deliveries (bot_id, frame)
         SELECT w.bot_id, $2::json FROM webhooks w WHERE w.bot_id = ANY ($1::bigint[])
         RETURNING bot_id
       ) SELECT wake_jobs('webhook-shard', array_agg(DISTINCT webhook_shard(bot_id)::text)) FROM queued HAVING count(*) > 0`,
      [userIds, JSON.stringify(frame)],
    );
  }

  /**
   * A shard run's read: the oldest frames (up to `perBot` each) of every bot of the shard that
   * is neither in the retry lane nor leased, in one statement, grouped by bot and in order.
   */
  shardWaiting(shard: number, perBot: number): Promise<ShardDelivery[]> {
    return this.jobs.query(
      `SELECT w.bot_id::text AS "botId", d.id::text, d.delivery_id::text AS "deliveryId", d.frame::text AS frame, w.url, w.secret
         FROM webhooks w
        CROSS JOIN LATERAL (
              SELECT d.id, d.delivery_id, d.frame FROM webhook_deliveries d
               WHERE d.bot_id = w.bot_id AND d.dead_at IS NULL
               ORDER BY d.id LIMIT $2) d
        WHERE webhook_shard(w.bot_id) = $1 AND NOT w.retrying AND (w.busy_until IS NULL OR w.busy_until < now())
        ORDER BY w.bot_id, d.id`,
      [shard, perBot],
    );
  }

  /**
   * Records a shard run in one statement: forgets the frames delivered, marks the bots that had
   * a success healthy, and leases the bots whose request is still in flight (`leased`) or lets
   * their lease go. Job bookkeeping: should PostgreSQL crash and lose it, the frames go once more.
   */
  async recordShardRun(bots: readonly ShardRunRecord[]): Promise<void> {
    if (bots.length === 0) return;
    await this.jobs.bookkeeping(
      `WITH done AS (DELETE FROM webhook_deliveries WHERE id = ANY ($1::bigint[]))
       UPDATE webhooks w
          SET last_success_at = CASE WHEN r.succeeded THEN now() ELSE w.last_success_at END,
              failures_in_a_row = CASE WHEN r.succeeded THEN 0 ELSE w.failures_in_a_row END,
              failing_since = CASE WHEN r.succeeded THEN NULL ELSE w.failing_since END,
              last_error = CASE WHEN r.succeeded THEN NULL ELSE w.last_error END,
              busy_until = CASE WHEN r.leased THEN now() + make_interval(secs => ${LEASE_SECONDS}) END
         FROM unnest($2::bigint[], $3::boolean[], $4::boolean[]) AS r (bot_id, succeeded, leased)
        WHERE w.bot_id = r.bot_id
          -- A healthy bot's row is rewritten at most once a second (its last success is that
          -- precise): at two frames a second each, a write per delivery cost more than the rest.
          AND (r.leased OR w.busy_until IS NOT NULL OR w.failures_in_a_row > 0 OR w.last_error IS NOT NULL
               OR (r.succeeded AND (w.last_success_at IS NULL OR w.last_success_at < now() - interval '1 second')))`,
      [
        bots.flatMap((bot) => bot.delivered),
        bots.map((bot) => bot.botId),
        bots.map((bot) => bot.delivered.length > 0),
        bots.map((bot) => bot.leased),
      ],
    );
  }

  /** Wakes a shard's job (in place of any waiting). */
  async wakeShard(shard: number): Promise<void> {
    await this.jobs.query(`SELECT wake_jobs('webhook-shard', ARRAY[$1::text])`, [shard]);
    this.jobs.nudge();
  }

  /** Wakes the job of the shard of each of these bots: frames of theirs may be waiting. */
  async wakeShards(botIds: readonly string[]): Promise<void> {
    await this.jobs.query(`SELECT wake_jobs('webhook-shard', ARRAY(SELECT DISTINCT webhook_shard(b)::text FROM unnest($1::bigint[]) b))`, [botIds]);
    this.jobs.nudge();
  }

  /**
   * Leases a bot in the retry lane to its job's run, or renews the lease: false when the bot is
   * not retrying (its shard sends its frames) or another run holds it. The lease, not a queue
   * per bot, keeps two runs from sending one bot's frames at once: graphile-worker locks every
   * queue row on every fetch, and never deletes one (docs/architecture.md).
   */
  async leaseRetrying(botId: string, renew = false): Promise<boolean> {
    const rows = await this.jobs.query(
      `UPDATE webhooks SET busy_until = now() + make_interval(secs => ${RETRY_LEASE_SECONDS})
        WHERE bot_id = $1 AND retrying AND ($2 OR busy_until IS NULL OR busy_until < now())
       RETURNING bot_id`,
      [botId, renew],
    );
    return rows.length > 0;
  }

  /** The oldest frames waiting for a bot's webhook, with the webhook's URL and secret. */
  waiting(botId: string, limit: number): Promise<WaitingDelivery[]> {
    return this.jobs.query(
      `SELECT d.id::text, d.delivery_id::text AS "deliveryId", d.frame::text AS frame, w.url, w.secret
         FROM webhook_deliveries d JOIN webhooks w ON w.bot_id = d.bot_id
        WHERE d.bot_id = $1 AND d.dead_at IS NULL
        ORDER BY d.id
        LIMIT $2`,
      [botId, limit],
    );
  }

  /**
   * The retry lane's record: forgets frames the webhook answered 2xx to and marks it healthy;
   * with `backToShard` (nothing left waiting), the bot returns to its shard's lane. Job
   * bookkeeping: should PostgreSQL crash and lose it, the frames go once more.
   */
  async delivered(botId: string, ids: readonly string[], backToShard = false): Promise<void> {
    if (ids.length === 0 && !backToShard) return;
    await this.jobs.bookkeeping(
      `WITH done AS (DELETE FROM webhook_deliveries WHERE id = ANY ($2::bigint[]))
       UPDATE webhooks
          SET last_success_at = CASE WHEN $4 THEN now() ELSE last_success_at END,
              failures_in_a_row = CASE WHEN $4 THEN 0 ELSE failures_in_a_row END,
              failing_since = CASE WHEN $4 THEN NULL ELSE failing_since END,
              last_error = CASE WHEN $4 THEN NULL ELSE last_error END,
              retrying = retrying AND NOT $3,
              busy_until = CASE WHEN $3 THEN NULL ELSE busy_until END
        WHERE bot_id = $1`,
      [botId, ids, backToShard, ids.length > 0],
    );
  }

  /**
   * Records a failed attempt, and puts the bot in the retry lane (letting any lease go). Once
   * the webhook has been failing for RETRY_WINDOW_HOURS, everything waiting for it becomes a dead
   * letter (kept, for the admin), the bot goes back to its shard, where each new frame is tried
   * once, and `gaveUp` is true; otherwise `failuresInARow` says how long to wait before the next
   * attempt.
   */
  async failed(botId: string, error: string): Promise<{ failuresInARow: number; gaveUp: boolean }> {
    const [row] = await this.jobs.query<{ failuresInARow: number; gaveUp: boolean }>(
      `WITH failed AS (
         UPDATE webhooks
            SET failures_in_a_row = failures_in_a_row + 1, failing_since = coalesce(failing_since, now()),
                last_failure_at = now(), last_error = left($2, 500), busy_until = NULL,
                retrying = coalesce(failing_since, now()) > now() - make_interval(hours => ${RETRY_WINDOW_HOURS})
          WHERE bot_id = $1
         RETURNING failures_in_a_row, failing_since <= now() - make_interval(hours => ${RETRY_WINDOW_HOURS}) AS expired
       ), dead AS (
         UPDATE webhook_deliveries SET dead_at = now()
          WHERE bot_id = $1 AND dead_at IS NULL AND (SELECT expired FROM failed)
       )
       SELECT failures_in_a_row AS "failuresInARow", expired AS "gaveUp" FROM failed`,
      [botId, error],
    );
    return row ?? { failuresInARow: 0, gaveUp: true };
  }

  /** Runs the bot's job again at `delayMs` from now (in place of any that is waiting). */
  /** Runs the bot's retry job at `delayMs` from now (in place of any that is waiting), and lets its lease go. */
  async retryLater(botId: string, delayMs: number): Promise<void> {
    await this.jobs.query(
      `WITH released AS (UPDATE webhooks SET busy_until = NULL WHERE bot_id = $1)
       SELECT graphile_worker.add_job('webhook', json_build_object('key', $1::text),
         run_at => now() + make_interval(secs => $2), job_key => 'webhook:' || $1, job_key_mode => 'replace')`,
      [botId, delayMs / 1000],
    );
  }

  /**
   * Wakes the job of every bot whose frames have waited over `seconds` with no job to send them
   * (its shard's, or its own in the retry lane): a job woken before a crash that lost it, or a
   * lease left by an instance that died. How many bots.
   */
  async wakeForgotten(seconds: number): Promise<number> {
    const rows: { count: number }[] = await this.jobs.query(
      `SELECT count(*)::int AS count,
              (SELECT count(graphile_worker.add_job('webhook', json_build_object('key', b::text), job_key => 'webhook:' || b,
                                                    job_key_mode => 'preserve_run_at'))
                 FROM unnest(array_agg(bot_id) FILTER (WHERE retrying)) b) AS retried,
              wake_jobs('webhook-shard', array_agg(DISTINCT webhook_shard(bot_id)::text) FILTER (WHERE NOT retrying)) AS sharded
         FROM (SELECT DISTINCT d.bot_id, w.retrying
                 FROM webhook_deliveries d JOIN webhooks w ON w.bot_id = d.bot_id
                WHERE d.dead_at IS NULL AND d.created_at < now() - make_interval(secs => $1)
                  AND (w.busy_until IS NULL OR w.busy_until < now())
                  AND NOT EXISTS (
                        SELECT FROM graphile_worker._private_jobs j
                         WHERE j.key = CASE WHEN w.retrying THEN 'webhook:' || d.bot_id ELSE 'webhook-shard:' || webhook_shard(d.bot_id) END)
              ) forgotten
       HAVING count(*) > 0`,
      [seconds],
    );
    return rows[0]?.count ?? 0;
  }

  /** Runs the bot's job again now: more is waiting than one run sends. */
  async wake(botId: string): Promise<void> {
    await this.retryLater(botId, 0);
  }

  /** Every webhook's health, the failing ones first. */
  health(): Promise<WebhookHealthRow[]> {
    return this.dataSource.query(
      `SELECT w.bot_id::text AS "botId", u.username, u.owner_id::text AS "ownerId", w.url, w.created_at AS "createdAt",
              w.last_success_at AS "lastSuccessAt", w.last_failure_at AS "lastFailureAt", w.last_error AS "lastError",
              w.failures_in_a_row AS "failuresInARow",
              (SELECT count(*)::int FROM webhook_deliveries d WHERE d.bot_id = w.bot_id AND d.dead_at IS NULL) AS waiting,
              (SELECT count(*)::int FROM webhook_deliveries d WHERE d.bot_id = w.bot_id AND d.dead_at IS NOT NULL) AS "deadLetters"
         FROM webhooks w JOIN users u ON u.id = w.bot_id
        ORDER BY w.failures_in_a_row DESC, w.bot_id`,
    );
  }
}
