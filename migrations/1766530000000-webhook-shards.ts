import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhook deliveries in two lanes, so that a healthy bot's frame costs a share of a statement,
 * not a job of its own.
 *
 * - The shard lane: bots are spread over 16 shards (`webhook_shard`), and a message wakes the
 *   job of each shard it concerns (`webhook-shard:<n>`, one queue each, so a shard is worked by
 *   one job at a time on any instance). A run reads the waiting frames of every healthy bot of
 *   its shard in one statement and records what was delivered in one.
 * - The retry lane: a bot whose delivery failed (`retrying`) is left by its shard and worked by
 *   a job of its own (`webhook:<bot>`), with backoff, until everything waiting has gone; then it
 *   returns to its shard.
 *
 * `busy_until` is a lease: a shard run that stops waiting for a slow bot (so that its other bots
 * are not held up) leaves that bot's request in flight, and the bot leased, until it ends. An
 * instance that dies with a lease leaves it to expire.
 */
export class WebhookShards1766530000000 implements MigrationInterface {
  name = 'WebhookShards1766530000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE webhooks ADD COLUMN retrying boolean NOT NULL DEFAULT false, ADD COLUMN busy_until timestamptz`);
    await queryRunner.query(`CREATE FUNCTION webhook_shard(bot_id bigint) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT ($1 % 16)::int'`);
    await queryRunner.query(`CREATE INDEX webhooks_shard_idx ON webhooks (webhook_shard(bot_id)) WHERE NOT retrying`);
    // Bots failing now go on in the retry lane, where their jobs already are.
    await queryRunner.query(`UPDATE webhooks SET retrying = true WHERE failures_in_a_row > 0`);
    await queryRunner.query(enqueueFunction(`wake_jobs('webhook-shard', ARRAY(SELECT DISTINCT webhook_shard(b::bigint)::text FROM unnest(bots) b))`));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(enqueueFunction(`wake_jobs('webhook', bots)`));
    await queryRunner.query(`DROP INDEX webhooks_shard_idx`);
    await queryRunner.query(`DROP FUNCTION webhook_shard(bigint)`);
    await queryRunner.query(`ALTER TABLE webhooks DROP COLUMN retrying, DROP COLUMN busy_until`);
  }
}

/** The messages trigger's function (see the webhooks migration), waking jobs with `wake`. */
function enqueueFunction(wake: string): string {
  return `
    CREATE OR REPLACE FUNCTION messages_enqueue_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
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
        PERFORM ${wake};
      END IF;
      RETURN NULL;
    END $$`;
}
