import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Push jobs without a queue each. A subscription's job ran in a queue of its own (`push:<id>`),
 * so that two runs never sent one subscription's pushes at once. But graphile-worker (0.16)
 * locks every available queue row on every job fetch, of any task, and never deletes one: each
 * subscription ever pushed to made every later fetch slower and wrote a WAL record to it
 * (bench/HISTORY.md, 2026-12-07 11:47). A lease on the subscription's row (`busy_until`) keeps
 * runs apart instead, as it does for the webhooks' retry lane: a run that finds the lease taken
 * leaves, and the holder looks again for what waits when it lets the lease go.
 *
 * `wake_jobs` takes `in_queues`: false adds the jobs with no queue. Push jobs already waiting
 * lose theirs, and the queues no job names any more are deleted.
 */
export class PushLeases1766560000000 implements MigrationInterface {
  name = 'PushLeases1766560000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE push_subscriptions ADD COLUMN busy_until timestamptz`);
    await queryRunner.query(`DROP FUNCTION wake_jobs(text, text[])`);
    await queryRunner.query(wakeJobs(true));
    await queryRunner.query(enqueuePushes(`wake_jobs('push', subscriptions, in_queues => false)`));
    // graphile-worker's schema is installed after Parley's migrations: on a new database it is not there yet.
    await queryRunner.query(`
      DO $$
      BEGIN
        IF to_regclass('graphile_worker._private_jobs') IS NOT NULL THEN
          UPDATE graphile_worker._private_jobs j SET job_queue_id = NULL
            FROM graphile_worker._private_tasks t
           WHERE t.id = j.task_id AND t.identifier = 'push' AND j.locked_at IS NULL AND j.job_queue_id IS NOT NULL;
          DELETE FROM graphile_worker._private_job_queues q
           WHERE q.queue_name LIKE 'push:%' AND NOT EXISTS (SELECT FROM graphile_worker._private_jobs j WHERE j.job_queue_id = q.id);
        END IF;
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(enqueuePushes(`wake_jobs('push', subscriptions)`));
    await queryRunner.query(`DROP FUNCTION wake_jobs(text, text[], boolean)`);
    await queryRunner.query(wakeJobs(false));
    await queryRunner.query(`ALTER TABLE push_subscriptions DROP COLUMN busy_until`);
  }
}

/**
 * The webhooks migration's `wake_jobs` (see there for the locks), with `in_queues` when
 * `withChoice`: each job in a queue named after its key (the default), or in none. With
 * `fastPath`, the wake-jobs-fast-path migration's: it returns once it has locked the jobs and
 * found each of them waiting.
 */
export function wakeJobs(withChoice: boolean, fastPath = false): string {
  return `
    CREATE OR REPLACE FUNCTION wake_jobs(task text, keys text[]${withChoice ? ', in_queues boolean DEFAULT true' : ''}) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      job_keys text[] := ARRAY(SELECT DISTINCT task || ':' || k FROM unnest(keys) k ORDER BY 1);${fastPath ? '\n      waiting int;' : ''}
    BEGIN${
      fastPath
        ? `
      -- Locked in key order, as below, until the caller commits.
      SELECT count(*) FILTER (WHERE locked.is_available) INTO waiting
        FROM (SELECT j.is_available FROM graphile_worker._private_jobs j
               WHERE j.key = ANY (job_keys) ORDER BY j.key FOR NO KEY UPDATE) locked;
      IF waiting = cardinality(job_keys) THEN
        RETURN;
      END IF;`
        : ''
    }
      INSERT INTO graphile_worker._private_tasks (identifier) VALUES (task) ON CONFLICT DO NOTHING;
      IF ${withChoice ? 'in_queues' : 'true'} THEN
        INSERT INTO graphile_worker._private_job_queues (queue_name)
        SELECT q FROM unnest(job_keys) q ON CONFLICT DO NOTHING;
      END IF;
      PERFORM FROM graphile_worker._private_jobs j WHERE j.key = ANY (job_keys) ORDER BY j.key FOR NO KEY UPDATE;
      UPDATE graphile_worker._private_jobs j SET key = NULL, attempts = j.max_attempts, updated_at = now()
       WHERE j.key = ANY (job_keys) AND j.is_available IS NOT TRUE;
      INSERT INTO graphile_worker._private_jobs (job_queue_id, task_id, payload, key)
      SELECT q.id, t.id, json_build_object('key', substr(k.key, length(task) + 2)), k.key
        FROM unnest(job_keys) AS k (key)
        JOIN graphile_worker._private_tasks t ON t.identifier = task
        LEFT JOIN graphile_worker._private_job_queues q ON ${withChoice ? 'in_queues' : 'true'} AND q.queue_name = k.key
      ON CONFLICT (key) DO NOTHING;
    END $$`;
}

/** The web-push migration's trigger function, waking the subscriptions' jobs with `wake` (also the push-shards migration's). */
export function enqueuePushes(wake: string): string {
  return `
    CREATE OR REPLACE FUNCTION messages_enqueue_pushes() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      subscriptions text[];
    BEGIN
      WITH queued AS (
        INSERT INTO push_deliveries (subscription_id, conversation_id, frame, urgent)
        SELECT s.id, n.conversation_id,
               json_build_object('type', 'message.created', 'id', n.id::text,
                 'conversationId', n.conversation_id::text, 'seq', n.seq, 'changeSeq', n.change_seq),
               c.type = 'direct' OR m.user_id = ANY (n.mentioned_user_ids)
          FROM new_messages n
          JOIN conversation_members m ON m.conversation_id = n.conversation_id AND m.push AND m.user_id <> n.sender_id
          JOIN conversations c ON c.id = n.conversation_id
          JOIN push_subscriptions s ON s.user_id = m.user_id
         WHERE n.kind <> 'system'
         ORDER BY n.conversation_id, n.seq, s.id
        RETURNING subscription_id
      ) SELECT array_agg(DISTINCT subscription_id::text) INTO subscriptions FROM queued;
      IF subscriptions IS NOT NULL THEN
        PERFORM ${wake};
      END IF;
      RETURN NULL;
    END $$`;
}
