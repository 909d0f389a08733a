import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * System messages: membership and title changes recorded in a conversation's history, each with
 * its own `seq`, so they notify, count as unread and catch up like any message. `kind` says
 * which a message is (`text` for everything sent); a system message has no body and an `event`
 * (`{type, actorId, userIds?, title?}`), and its sender is the member who made the change.
 *
 * The old rule "no body exactly when deleted" now holds for text messages only. Both columns
 * are added without rewriting the table (a constant default); the new checks read it once.
 */
export class SystemMessages1766100000000 implements MigrationInterface {
  name = 'SystemMessages1766100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE messages
        ADD COLUMN kind text NOT NULL DEFAULT 'text',
        ADD COLUMN event jsonb`);
    await queryRunner.query(`ALTER TABLE messages DROP CONSTRAINT messages_check`);
    await queryRunner.query(`
      ALTER TABLE messages ADD CONSTRAINT messages_kind_check CHECK (
        CASE kind
          WHEN 'text' THEN event IS NULL AND (body IS NULL) = (deleted_at IS NOT NULL)
          WHEN 'system' THEN event IS NOT NULL AND body IS NULL AND deleted_at IS NULL
          ELSE false
        END)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Kept as tombstones, not deleted, so that seqs keep no gaps.
    await queryRunner.query(`ALTER TABLE messages DROP CONSTRAINT messages_kind_check`);
    await queryRunner.query(`UPDATE messages SET deleted_at = created_at WHERE kind = 'system'`);
    await queryRunner.query(`ALTER TABLE messages ADD CONSTRAINT messages_check CHECK ((body IS NULL) = (deleted_at IS NOT NULL))`);
    await queryRunner.query(`ALTER TABLE messages DROP COLUMN event, DROP COLUMN kind`);
  }
}
