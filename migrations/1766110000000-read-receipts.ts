import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Read receipts: when each member's read marker last moved forward (`read_at`, null until it
 * first does after this migration). A trigger keeps it, so every path that moves a marker
 * (`POST …/read`, a send in `send_messages`, a system message's actor) records the time and none
 * can forget it; the WHEN clause is checked before any function runs, so an update that does not
 * move the marker costs nothing more.
 */
export class ReadReceipts1766110000000 implements MigrationInterface {
  name = 'ReadReceipts1766110000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE conversation_members ADD COLUMN read_at timestamptz`);
    await queryRunner.query(`
      CREATE FUNCTION conversation_members_stamp_read_at() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.read_at := now();
        RETURN NEW;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER conversation_members_read_at
        BEFORE UPDATE OF last_read_seq ON conversation_members
        FOR EACH ROW WHEN (NEW.last_read_seq > OLD.last_read_seq)
        EXECUTE FUNCTION conversation_members_stamp_read_at()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER conversation_members_read_at ON conversation_members`);
    await queryRunner.query(`DROP FUNCTION conversation_members_stamp_read_at()`);
    await queryRunner.query(`ALTER TABLE conversation_members DROP COLUMN read_at`);
  }
}
