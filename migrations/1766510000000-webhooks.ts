import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhooks: a bot's URL (`webhooks`), and the frames waiting to be POSTed to it
 * (`webhook_deliveries`, deleted once delivered, kept with `dead_at` once given up on).
 *
 * A frame is written to `webhook_deliveries` in the transaction that makes it: a committed
 * message always has its deliveries, an uncommitted one never. Then a job of the durable queue
 * (graphile-worker, src/jobs) is added, in the same transaction, for each bot concerned: one job
 * per bot (its job key) in a queue of its own (its queue name), so one bot's deliveries run one
 * at a time, oldest first, and a slow bot holds up nobody else. The job (src/webhooks) sends what
 * is waiting, in order.
 *
 * The send path pays for this only where a bot with a webhook is a member: such members are
 * marked (`conversation_members.webhook`, set when the webhook is set and when such a bot joins),
 * and a partial index on the marked rows answers "which members of these conversations have a
 * webhook" by reading only those. Without any webhook, a send's statement costs one probe of an
 * empty index.
 *
 * `wake_jobs` adds the jobs: shared with other durable deliveries (one job per destination key).
 * It adds them as graphile-worker's `add_jobs` does, but without NOTIFY (see there).
 */
export class Webhooks1766510000000 implements MigrationInterface {
  name = 'Webhooks1766510000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE webhooks (
        bot_id            bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        url               text NOT NULL,
        -- The HMAC key of the signatures: needed as it is to sign, so not hashed.
        secret            text NOT NULL,
        created_at        timestamptz NOT NULL DEFAULT now(),
        last_success_at   timestamptz,
        last_failure_at   timestamptz,
        last_error        text,
        failures_in_a_row integer NOT NULL DEFAULT 0,
        -- The first failure of the current run of failures: 24 h after it, what waits is given up.
        failing_since     timestamptz
      )`);
    await queryRunner.query(`
      CREATE TABLE webhook_deliveries (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        bot_id      bigint NOT NULL REFERENCES webhooks (bot_id) ON DELETE CASCADE,
        delivery_id uuid NOT NULL DEFAULT gen_random_uuid(),
        -- json, not jsonb: the frame goes out with its fields in the socket's order.
        frame       json NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        dead_at     timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX webhook_deliveries_waiting_idx ON webhook_deliveries (bot_id, id) WHERE dead_at IS NULL`);
    await queryRunner.query(`CREATE INDEX webhook_deliveries_dead_idx ON webhook_deliveries (bot_id) WHERE dead_at IS NOT NULL`);

    await queryRunner.query(`ALTER TABLE conversation_members ADD COLUMN webhook boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`CREATE INDEX conversation_members_webhook_idx ON conversation_members (conversation_id) WHERE webhook`);
    // A bot with a webhook that joins a conversation is marked as it joins.
    await queryRunner.query(`
      CREATE FUNCTION conversation_members_mark_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.webhook := EXISTS (SELECT FROM webhooks w WHERE w.bot_id = NEW.user_id);
        RETURN NEW;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER conversation_members_mark_webhook BEFORE INSERT ON conversation_members
        FOR EACH ROW EXECUTE FUNCTION conversation_members_mark_webhook()`);

    // graphile_worker.add_jobs with job_key_mode preserve_run_at, but without its pg_notify: a
    // transaction that NOTIFYs takes a lock at commit that every other NOTIFYing commit in the
    // cluster waits for, held through its WAL flush, so sends that woke jobs that way committed
    // one at a time (measured: 16 senders fell from 373 to 0 msg/s). Workers are nudged after the
    // commit instead (JobQueue.nudge), and poll every second besides. plpgsql, whose body is
    // checked only when run: graphile-worker's schema (0.16.6) is installed by its own migrate,
    // after this one.
    //
    // A destination's job is locked (FOR NO KEY UPDATE, in key order, so wakers never deadlock)
    // until the caller commits: a worker's get_job skips a locked job (FOR UPDATE SKIP LOCKED),
    // so no run can start, read what waits, and finish before the caller's rows are visible to
    // it. The lock writes no new row version: a waiting job is left as it is (it reads what
    // waits when it runs); rewriting it on every send cost the sends dearly (bench/HISTORY.md,
    // 2026-12-07). A running job has its key taken away, and a new one runs after it, in its queue.
    await queryRunner.query(`
      CREATE FUNCTION wake_jobs(task text, keys text[]) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        job_keys text[] := ARRAY(SELECT DISTINCT task || ':' || k FROM unnest(keys) k ORDER BY 1);
      BEGIN
        INSERT INTO graphile_worker._private_tasks (identifier) VALUES (task) ON CONFLICT DO NOTHING;
        INSERT INTO graphile_worker._private_job_queues (queue_name)
        SELECT q FROM unnest(job_keys) q ON CONFLICT DO NOTHING;
        PERFORM FROM graphile_worker._private_jobs j WHERE j.key = ANY (job_keys) ORDER BY j.key FOR NO KEY UPDATE;
        UPDATE graphile_worker._private_jobs j SET key = NULL, attempts = j.max_attempts, updated_at = now()
         WHERE j.key = ANY (job_keys) AND j.is_available IS NOT TRUE;
        INSERT INTO graphile_worker._private_jobs (job_queue_id, task_id, payload, key)
        SELECT q.id, t.id, json_build_object('key', substr(q.queue_name, length(task) + 2)), q.queue_name
          FROM graphile_worker._private_job_queues q
          JOIN graphile_worker._private_tasks t ON t.identifier = task
         WHERE q.queue_name = ANY (job_keys)
        ON CONFLICT (key) DO NOTHING;
      END $$`);
    await queryRunner.query(`
      CREATE FUNCTION messages_enqueue_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        bots text[];
      BEGIN
        WITH queued AS (
          INSERT INTO webhook_deliveries (bot_id, frame)
          SELECT m.user_id, json_build_object('type', 'message.created', 'id', n.id::text,
                   'conversationId', n.conversation_id::text, 'seq', n.seq, 'changeSeq', n.change_seq)
            FROM new_messages n JOIN conversation_members m ON m.conversation_id = n.conversation_id AND m.webhook
           ORDER BY n.conversation_id, n.seq, m.user_id
          RETURNING bot_id
        ) SELECT array_agg(DISTINCT bot_id::text) INTO bots FROM queued;
        IF bots IS NOT NULL THEN
          PERFORM wake_jobs('webhook', bots);
        END IF;
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER messages_enqueue_webhooks AFTER INSERT ON messages
        REFERENCING NEW TABLE AS new_messages
        FOR EACH STATEMENT EXECUTE FUNCTION messages_enqueue_webhooks()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER messages_enqueue_webhooks ON messages`);
    await queryRunner.query(`DROP FUNCTION messages_enqueue_webhooks()`);
    await queryRunner.query(`DROP FUNCTION wake_jobs(text, text[])`);
    await queryRunner.query(`DROP TRIGGER conversation_members_mark_webhook ON conversation_members`);
    await queryRunner.query(`DROP FUNCTION conversation_members_mark_webhook()`);
    await queryRunner.query(`DROP INDEX conversation_members_webhook_idx`);
    await queryRunner.query(`ALTER TABLE conversation_members DROP COLUMN webhook`);
    await queryRunner.query(`DROP TABLE webhook_deliveries`);
    await queryRunner.query(`DROP TABLE webhooks`);
  }
}
