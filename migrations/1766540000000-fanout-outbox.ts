import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The fan-out outbox: every statement that stores messages leaves one row naming them, in its
 * own transaction. The instance that sent them deletes the row once it has published their
 * frames; a row still there a few seconds later belongs to an instance that died between its
 * commit and its publish, and any live instance relays it (FanoutRelay). One row a statement,
 * not a message: a batch of 32 sends costs one small insert and, later, one index probe of a
 * batched delete.
 */
export class FanoutOutbox1766540000000 implements MigrationInterface {
  name = 'FanoutOutbox1766540000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE fanout_outbox (
        first_id bigint PRIMARY KEY,
        message_ids bigint[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Rows live for a tenth of a second: vacuumed after a few hundred dead ones rather than a
    // fifth of a table that is nearly always empty.
    await queryRunner.query(`ALTER TABLE fanout_outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500)`);
    await queryRunner.query(`
      CREATE FUNCTION messages_fanout_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO fanout_outbox (first_id, message_ids)
        SELECT min(id), array_agg(id ORDER BY id) FROM new_messages HAVING count(*) > 0;
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER messages_fanout_outbox AFTER INSERT ON messages
        REFERENCING NEW TABLE AS new_messages
        FOR EACH STATEMENT EXECUTE FUNCTION messages_fanout_outbox()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER messages_fanout_outbox ON messages`);
    await queryRunner.query(`DROP FUNCTION messages_fanout_outbox()`);
    await queryRunner.query(`DROP TABLE fanout_outbox`);
  }
}
