import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { RETRY_WINDOW_HOURS } from '../deliveries/retry-policy.js';
import { JobQueue } from '../jobs/job-queue.js';

/**
 * How long a run holds its subscription: longer than a run may take (PushDeliverer starts no
 * push after SENDING_MAX_MS, and one takes at most 10 s), so that only an instance that died
 * lets it lapse.
 */
const LEASE_SECONDS = 60;

/**
 * A subscription `s` in the retry lane: failing, and not yet given up on. Its shard passes it
 * over, and a job of its own sends its pushes.
 */
const RETRYING = `(s.failures_in_a_row > 0 AND s.failing_since > now() - make_interval(hours => ${RETRY_WINDOW_HOURS}))`;

/** A push waiting for a subscription, with the subscription. */
export interface WaitingPush {
  id: string;
  subscriptionId: string;
  conversationId: string;
  /** The `message.created` frame's JSON: the payload. */
  frame: string;
  urgent: boolean;
  userId: string;
  endpoint: string;
  p256dh: string;
  auth: string;
}

/** Every statement on `push_subscriptions` and `push_deliveries`, and the members' `push` mark they decide. */
@Injectable()
export class PushRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobQueue,
  ) {}

  /**
   * Stores a subscription for `userId` (taking it over if the browser gave it to another account
   * before) and marks the user's unmuted memberships. `created` is false when the endpoint was
   * known already.
   */
  subscribe(userId: string, endpoint: string, p256dh: string, auth: string): Promise<{ id: string; created: boolean }> {
    return this.dataSource.transaction(async (manager) => {
      const [row] = await manager.query(
        `INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) VALUES ($1, $2, $3, $4)
         ON CONFLICT (endpoint) DO UPDATE
           SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth, failing_since = NULL, failures_in_a_row = 0
         RETURNING id::text, (xmax = 0) AS created, (SELECT user_id::text FROM push_subscriptions WHERE endpoint = $2) AS "previousUserId"`,
        [userId, endpoint, p256dh, auth],
      );
      await markPush(manager, userId);
      if (row.previousUserId && row.previousUserId !== userId) await markPush(manager, row.previousUserId);
      return { id: row.id, created: row.created };
    });
  }

  /** Removes one of the user's subscriptions; false when it has none by that id. */
  unsubscribe(userId: string, subscriptionId: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const removed = await manager.query(
        `WITH removed AS (DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2 RETURNING id) SELECT id FROM removed`,
        [subscriptionId, userId],
      );
      if (removed.length === 0) return false;
      await markPush(manager, userId);
      return true;
    });
  }

  /** Every user with at least one subscription. */
  async subscriberIds(): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(`SELECT DISTINCT user_id::text AS id FROM push_subscriptions`);
    return rows.map((row) => row.id);
  }

  /** Removes a subscription the push service says is gone (404, 410). */
  async removeGone(subscriptionId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const [removed] = await manager.query(
        `WITH removed AS (DELETE FROM push_subscriptions WHERE id = $1 RETURNING user_id) SELECT user_id::text AS "userId" FROM removed`,
        [subscriptionId],
      );
      if (removed) await markPush(manager, removed.userId);
    });
  }

  /** The oldest pushes waiting for a subscription. */
  waiting(subscriptionId: string, limit: number): Promise<WaitingPush[]> {
    return this.jobs.query(
      `SELECT d.id::text, d.subscription_id::text AS "subscriptionId", d.conversation_id::text AS "conversationId",
              d.frame::text AS frame, d.urgent, s.user_id::text AS "userId", s.endpoint, s.p256dh, s.auth
         FROM push_deliveries d JOIN push_subscriptions s ON s.id = d.subscription_id
        WHERE push_shard(d.subscription_id) = push_shard($1::bigint) AND d.subscription_id = $1
        ORDER BY d.id
        LIMIT $2`,
      [subscriptionId, limit],
    );
  }

  /**
   * A shard run's read: leases up to `subscriptions` of the shard's subscriptions that have
   * pushes waiting, are in the shard lane (not failing, or given up on) and not leased, and
   * returns their oldest pushes (up to `perSubscription` each), by subscription and in order, in
   * one statement.
   */
  takeShard(shard: number, subscriptions: number, perSubscription: number): Promise<WaitingPush[]> {
    return this.jobs.query(
      `WITH waiting AS (
         SELECT DISTINCT d.subscription_id AS id FROM push_deliveries d WHERE push_shard(d.subscription_id) = $1
       ), leased AS (
         UPDATE push_subscriptions s SET busy_until = now() + make_interval(secs => ${LEASE_SECONDS})
          WHERE s.id IN (
                  SELECT s.id FROM waiting w JOIN push_subscriptions s ON s.id = w.id
                   WHERE NOT ${RETRYING} AND (s.busy_until IS NULL OR s.busy_until < now())
                   LIMIT $2)
            -- Again on the row as it is when locked: a run of the retry lane may have leased it since.
            AND NOT ${RETRYING} AND (s.busy_until IS NULL OR s.busy_until < now())
         RETURNING s.id, s.user_id, s.endpoint, s.p256dh, s.auth
       )
       SELECT d.id::text, l.id::text AS "subscriptionId", d.conversation_id::text AS "conversationId", d.frame::text AS frame,
              d.urgent, l.user_id::text AS "userId", l.endpoint, l.p256dh, l.auth
         FROM leased l
        CROSS JOIN LATERAL (
              SELECT d.id, d.conversation_id, d.frame, d.urgent FROM push_deliveries d
               WHERE push_shard(d.subscription_id) = $1 AND d.subscription_id = l.id
               ORDER BY d.id LIMIT $3) d
        ORDER BY l.id, d.id`,
      [shard, subscriptions, perSubscription],
    );
  }

  /**
   * Records a shard run's subscriptions in one statement: forgets the pushes done with (sent,
   * superseded or not needed), marks healthy those the push service took one from, and lets
   * the leases go. Job bookkeeping: should PostgreSQL crash and lose it, the pushes go once more.
   */
  async recordShardRun(doneIds: readonly string[], subscriptionIds: readonly string[], succeededIds: readonly string[]): Promise<void> {
    if (subscriptionIds.length === 0) return;
    await this.jobs.bookkeeping(
      `WITH done AS (DELETE FROM push_deliveries WHERE id = ANY ($1::bigint[]))
       UPDATE push_subscriptions s
          SET busy_until = NULL,
              -- A success ends a run of failures (one given up on, in the shard lane again).
              failures_in_a_row = CASE WHEN s.id = ANY ($3::bigint[]) THEN 0 ELSE s.failures_in_a_row END,
              failing_since = CASE WHEN s.id = ANY ($3::bigint[]) THEN NULL ELSE s.failing_since END
        WHERE s.id = ANY ($2::bigint[])`,
      [doneIds, subscriptionIds, succeededIds],
    );
  }

  /** Done with these pushes: sent, superseded by a later one of their conversation, or not needed. */
  async done(subscriptionId: string, ids: readonly string[], sent: boolean): Promise<void> {
    await this.jobs.query(
      `WITH done AS (DELETE FROM push_deliveries WHERE id = ANY ($2::bigint[]))
       UPDATE push_subscriptions SET failing_since = NULL, failures_in_a_row = 0 WHERE id = $1 AND $3 AND failures_in_a_row > 0`,
      [subscriptionId, ids, sent],
    );
  }

  /**
   * Records a failed push, which puts the subscription in the retry lane and lets its lease go;
   * after RETRY_WINDOW_HOURS of failures the pushes waiting are dropped (`gaveUp`), since a
   * notification a day late helps nobody, and the subscription is back in its shard's lane,
   * where each new push is tried once.
   */
  async failed(subscriptionId: string): Promise<{ failuresInARow: number; gaveUp: boolean }> {
    const [row] = await this.jobs.query<{ failuresInARow: number; gaveUp: boolean }>(
      `WITH failed AS (
         UPDATE push_subscriptions
            SET failures_in_a_row = failures_in_a_row + 1, failing_since = coalesce(failing_since, now()), busy_until = NULL
          WHERE id = $1
         RETURNING failures_in_a_row, failing_since <= now() - make_interval(hours => ${RETRY_WINDOW_HOURS}) AS expired
       ), dropped AS (
         DELETE FROM push_deliveries WHERE subscription_id = $1 AND (SELECT expired FROM failed)
       )
       SELECT failures_in_a_row AS "failuresInARow", expired AS "gaveUp" FROM failed`,
      [subscriptionId],
    );
    return row ?? { failuresInARow: 0, gaveUp: true };
  }

  /**
   * Leases the subscription to a job's run for LEASE_SECONDS: false when another run holds it
   * (that run looks again for what waits when it lets go, see `release`). The lease, not a
   * queue per subscription, keeps two runs from sending one subscription's pushes at once (the
   * push-leases migration).
   */
  async lease(subscriptionId: string): Promise<boolean> {
    const rows = await this.jobs.query(
      `UPDATE push_subscriptions SET busy_until = now() + make_interval(secs => ${LEASE_SECONDS})
        WHERE id = $1 AND (busy_until IS NULL OR busy_until < now())
       RETURNING id`,
      [subscriptionId],
    );
    return rows.length > 0;
  }

  /**
   * Lets the lease go, and says whether pushes are waiting: some may have come while the run
   * held it, and the runs they woke found it taken. A run that waits for this statement's
   * commit (the lease's row lock) finds the lease free.
   */
  async release(subscriptionId: string): Promise<{ waiting: boolean; retrying: boolean }> {
    const [row] = await this.jobs.query<{ waiting: boolean; retrying: boolean }>(
      `UPDATE push_subscriptions s SET busy_until = NULL WHERE id = $1
       RETURNING EXISTS (SELECT FROM push_deliveries d WHERE push_shard(d.subscription_id) = push_shard($1::bigint) AND d.subscription_id = $1) AS waiting,
                 ${RETRYING} AS retrying`,
      [subscriptionId],
    );
    return row ?? { waiting: false, retrying: false };
  }

  /** Runs the subscription's job at `delayMs` from now, in place of any that is waiting. */
  async retryLater(subscriptionId: string, delayMs: number): Promise<void> {
    await this.jobs.query(
      `SELECT graphile_worker.add_job('push', json_build_object('key', $1::text),
         run_at => now() + make_interval(secs => $2), job_key => 'push:' || $1, job_key_mode => 'replace')`,
      [subscriptionId, delayMs / 1000],
    );
  }

  /**
   * As WebhooksRepository.wakeForgotten, for subscriptions: the job of each one's shard, or its
   * own in the retry lane, for pushes waiting with neither (a lease left by an instance that
   * died lapses first). How many subscriptions.
   */
  async wakeForgotten(seconds: number): Promise<number> {
    const rows: { count: number }[] = await this.jobs.query(
      `SELECT count(*)::int AS count,
              (SELECT count(graphile_worker.add_job('push', json_build_object('key', r::text), job_key => 'push:' || r,
                                                    job_key_mode => 'preserve_run_at'))
                 FROM unnest(array_agg(id) FILTER (WHERE retrying)) r) AS retried,
              wake_jobs('push-shard', array_agg(DISTINCT push_shard(id)::text) FILTER (WHERE NOT retrying)) AS sharded
         FROM (SELECT DISTINCT s.id, ${RETRYING} AS retrying
                 FROM push_deliveries d JOIN push_subscriptions s ON s.id = d.subscription_id
                WHERE d.created_at < now() - make_interval(secs => $1)
                  AND (s.busy_until IS NULL OR s.busy_until < now())
                  AND NOT EXISTS (
                        SELECT FROM graphile_worker._private_jobs j
                         WHERE j.key = CASE WHEN ${RETRYING} THEN 'push:' || s.id ELSE 'push-shard:' || push_shard(s.id) END)
              ) forgotten
       HAVING count(*) > 0`,
      [seconds],
    );
    return rows[0]?.count ?? 0;
  }

  /** Wakes the shard's job (in place of any waiting), for what still waits. */
  async wakeShard(shard: number): Promise<void> {
    await this.jobs.query(`SELECT wake_jobs('push-shard', ARRAY[$1::text])`, [shard]);
    this.jobs.nudge();
  }

  /** Wakes the job of a subscription's shard: pushes of the subscription, back in its lane, are waiting. */
  async wakeShardOf(subscriptionId: string): Promise<void> {
    await this.jobs.query(`SELECT wake_jobs('push-shard', ARRAY[push_shard($1::bigint)::text])`, [subscriptionId]);
    this.jobs.nudge();
  }
}

/** Marks (or unmarks) the user's memberships as having somewhere to push to, as it now stands. */
async function markPush(manager: EntityManager, userId: string): Promise<void> {
  await manager.query(
    `UPDATE conversation_members m
        SET push = NOT m.muted AND EXISTS (SELECT FROM push_subscriptions s WHERE s.user_id = $1)
      WHERE m.user_id = $1 AND m.push IS DISTINCT FROM (NOT m.muted AND EXISTS (SELECT FROM push_subscriptions s WHERE s.user_id = $1))`,
    [userId],
  );
}
