import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { RETRY_WINDOW_HOURS } from '../deliveries/retry-policy.js';
import { JobQueue } from '../jobs/job-queue.js';

/**
 * How long a run holds its subscription: longer than a run may take (PushDeliverer stops
 * starting pushes after RUN_MAX_MS, and one takes at most 10 s), so that only an instance that
 * died lets it lapse.
 */
const LEASE_SECONDS = 60;

/** A push waiting for a subscription, with the subscription. */
export interface WaitingPush {
  id: string;
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
      `SELECT d.id::text, d.conversation_id::text AS "conversationId", d.frame::text AS frame, d.urgent,
              s.user_id::text AS "userId", s.endpoint, s.p256dh, s.auth
         FROM push_deliveries d JOIN push_subscriptions s ON s.id = d.subscription_id
        WHERE d.subscription_id = $1
        ORDER BY d.id
        LIMIT $2`,
      [subscriptionId, limit],
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
   * Records a failed push; after RETRY_WINDOW_HOURS of failures the pushes waiting are dropped
   * (`gaveUp`), since a notification a day late helps nobody.
   */
  async failed(subscriptionId: string): Promise<{ failuresInARow: number; gaveUp: boolean }> {
    const [row] = await this.jobs.query<{ failuresInARow: number; gaveUp: boolean }>(
      `WITH failed AS (
         UPDATE push_subscriptions
            SET failures_in_a_row = failures_in_a_row + 1, failing_since = coalesce(failing_since, now())
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
  async release(subscriptionId: string): Promise<boolean> {
    const [row] = await this.jobs.query<{ waiting: boolean }>(
      `UPDATE push_subscriptions SET busy_until = NULL WHERE id = $1
       RETURNING EXISTS (SELECT FROM push_deliveries d WHERE d.subscription_id = $1) AS waiting`,
      [subscriptionId],
    );
    return row?.waiting ?? false;
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
   * As WebhooksRepository.wakeForgotten, for subscriptions (a lease left by an instance that
   * died lapses first): how many were woken.
   */
  async wakeForgotten(seconds: number): Promise<number> {
    const rows: { count: number }[] = await this.jobs.query(
      `SELECT count(*)::int AS count, wake_jobs('push', array_agg(subscription_id::text), in_queues => false)
         FROM (SELECT DISTINCT d.subscription_id FROM push_deliveries d JOIN push_subscriptions s ON s.id = d.subscription_id
                WHERE d.created_at < now() - make_interval(secs => $1)
                  AND (s.busy_until IS NULL OR s.busy_until < now())
                  AND NOT EXISTS (SELECT FROM graphile_worker._private_jobs j WHERE j.key = 'push:' || d.subscription_id)) forgotten
       HAVING count(*) > 0`,
      [seconds],
    );
    return rows[0]?.count ?? 0;
  }

  /** Runs the subscription's job again now: pushes are waiting that the run ending did not send. */
  async wake(subscriptionId: string): Promise<void> {
    await this.retryLater(subscriptionId, 0);
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
