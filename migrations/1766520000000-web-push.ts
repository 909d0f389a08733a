import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Web Push: each browser subscription of a user (`push_subscriptions`), the pushes waiting for
 * each (`push_deliveries`, deleted once sent), and a member's `muted` setting.
 *
 * As for webhooks (see that migration), a message's pushes are written in its own transaction,
 * and a job of the durable queue is woken for each subscription concerned (one job, and one
 * queue, per subscription: its endpoint is the destination). The job asks presence, when it runs,
 * whether the user has a socket open anywhere, and pushes only if not.
 *
 * The send path finds the members to push to through a partial index on the marked members
 * (`conversation_members.push`: the user has a subscription and has not muted the conversation),
 * kept when a subscription comes or goes, when the member mutes or unmutes, and as members join.
 */
export class WebPush1766520000000 implements MigrationInterface {
  name = 'WebPush1766520000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE push_subscriptions (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        endpoint   text NOT NULL UNIQUE,
        p256dh     text NOT NULL,
        auth       text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        -- The first failure of the current run of failures: a day after it, the pushes waiting are dropped.
        failing_since timestamptz,
        failures_in_a_row integer NOT NULL DEFAULT 0
      )`);
    await queryRunner.query(`CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id)`);
    await queryRunner.query(`
      CREATE TABLE push_deliveries (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        subscription_id bigint NOT NULL REFERENCES push_subscriptions (id) ON DELETE CASCADE,
        conversation_id bigint NOT NULL,
        frame           json NOT NULL,
        -- A direct message or a mention: Urgency high.
        urgent          boolean NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX push_deliveries_waiting_idx ON push_deliveries (subscription_id, id)`);

    await queryRunner.query(`ALTER TABLE conversation_members ADD COLUMN muted boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`ALTER TABLE conversation_members ADD COLUMN push boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`CREATE INDEX conversation_members_push_idx ON conversation_members (conversation_id) WHERE push`);
    await queryRunner.query(`
      CREATE FUNCTION conversation_members_mark_push() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.push := NOT NEW.muted AND EXISTS (SELECT FROM push_subscriptions s WHERE s.user_id = NEW.user_id);
        RETURN NEW;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER conversation_members_mark_push BEFORE INSERT ON conversation_members
        FOR EACH ROW EXECUTE FUNCTION conversation_members_mark_push()`);
    await queryRunner.query(`
      CREATE FUNCTION messages_enqueue_pushes() RETURNS trigger LANGUAGE plpgsql AS $$
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
          PERFORM wake_jobs('push', subscriptions);
        END IF;
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER messages_enqueue_pushes AFTER INSERT ON messages
        REFERENCING NEW TABLE AS new_messages
        FOR EACH STATEMENT EXECUTE FUNCTION messages_enqueue_pushes()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER messages_enqueue_pushes ON messages`);
    await queryRunner.query(`DROP FUNCTION messages_enqueue_pushes()`);
    await queryRunner.query(`DROP TRIGGER conversation_members_mark_push ON conversation_members`);
    await queryRunner.query(`DROP FUNCTION conversation_members_mark_push()`);
    await queryRunner.query(`DROP INDEX conversation_members_push_idx`);
    await queryRunner.query(`ALTER TABLE conversation_members DROP COLUMN push`);
    await queryRunner.query(`ALTER TABLE conversation_members DROP COLUMN muted`);
    await queryRunner.query(`DROP TABLE push_deliveries`);
    await queryRunner.query(`DROP TABLE push_subscriptions`);
  }
}
