import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `wake_jobs` first locks the jobs that hold its keys, as before, and returns there when every
 * one of them is waiting to run: under load that is nearly every call (the first send after a
 * run began gave its key to a new job), and each send's statement paid for the task and queue
 * inserts, the update and the job insert that then did nothing (bench/HISTORY.md, 2026-12-07
 * 21:20). Otherwise it does what it did (the push-leases migration's body, locks included).
 */
export class WakeJobsFastPath1766580000000 implements MigrationInterface {
  name = 'WakeJobsFastPath1766580000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(wakeJobs(true));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(wakeJobs(false));
  }
}

function wakeJobs(fastPath: boolean): string {
  return `
    CREATE OR REPLACE FUNCTION wake_jobs(task text, keys text[], in_queues boolean DEFAULT true) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      job_keys text[] := ARRAY(SELECT DISTINCT task || ':' || k FROM unnest(keys) k ORDER BY 1);
      ${fastPath ? 'waiting int;' : ''}
    BEGIN
      ${
        fastPath
          ? `-- Locked in key order, as below, until the caller commits.
      SELECT count(*) FILTER (WHERE locked.is_available) INTO waiting
        FROM (SELECT j.is_available FROM graphile_worker._private_jobs j
               WHERE j.key = ANY (job_keys) ORDER BY j.key FOR NO KEY UPDATE) locked;
      IF waiting = cardinality(job_keys) THEN
        RETURN;
      END IF;`
          : ''
      }
      INSERT INTO graphile_worker._private_tasks (identifier) VALUES (task) ON CONFLICT DO NOTHING;
      IF in_queues THEN
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
        LEFT JOIN graphile_worker._private_job_queues q ON in_queues AND q.queue_name = k.key
      ON CONFLICT (key) DO NOTHING;
    END $$`;
}
