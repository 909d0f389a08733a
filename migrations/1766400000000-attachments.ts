import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Attachments: one row per uploaded file, its bytes (and its thumbnail's) kept in the
 * attachment storage (a local directory or an S3 bucket) under `storage_key`.
 *
 * A row is written `storing` before its files go to the storage and turns `stored` once they
 * are there, so a process that dies in between leaves a row the cleanup job finds and removes
 * with whatever reached the storage. A sending message claims its uploader's stored rows
 * (`message_id`, `position`). `removed_at` marks a row whose files are to go: its message was
 * deleted, an edit dropped it, an admin removed it, or it was never attached within a day. From
 * then on nobody sees it, and the cleanup job deletes its files and then the row.
 *
 * A message's delete marks its attachments removed in the same transaction, by the trigger
 * below: the delete path (and any future one) needs no attachment code, and the trigger fires
 * only when `deleted_at` is set, never on sends or edits.
 *
 * `messages.has_attachments` is set once a message has carried an attachment, and never
 * cleared: every message read looks up the attachments of those alone, so the reads of the
 * others (nearly all) cost what they did. Sends through `send_messages` leave it false.
 */
export class Attachments1766400000000 implements MigrationInterface {
  name = 'Attachments1766400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE attachments (
        id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uploader_id    bigint NOT NULL REFERENCES users (id),
        -- A message hard-deleted (never by the API) leaves its attachments unattached: swept after a day.
        message_id     bigint REFERENCES messages (id) ON DELETE SET NULL,
        position       smallint,
        filename       text NOT NULL,
        content_type   text NOT NULL,
        size           bigint NOT NULL CHECK (size >= 0),
        width          integer,
        height         integer,
        storage_key    text NOT NULL UNIQUE,
        thumbnail_key  text UNIQUE,
        thumbnail_size bigint,
        state          text NOT NULL DEFAULT 'storing' CHECK (state IN ('storing', 'stored')),
        created_at     timestamptz NOT NULL DEFAULT now(),
        removed_at     timestamptz,
        CHECK ((thumbnail_key IS NULL) = (thumbnail_size IS NULL))
      )`);
    await queryRunner.query(`ALTER TABLE messages ADD COLUMN has_attachments boolean NOT NULL DEFAULT false`);
    // A message's attachments, in order (every read of a message with has_attachments looks here).
    await queryRunner.query(`
      CREATE INDEX attachments_message_idx ON attachments (message_id, position) WHERE removed_at IS NULL`);
    // A user's storage in use (the quota), read without visiting the table.
    await queryRunner.query(`
      CREATE INDEX attachments_uploader_idx ON attachments (uploader_id) INCLUDE (size) WHERE removed_at IS NULL`);
    // The cleanup job's three kinds of work.
    await queryRunner.query(`
      CREATE INDEX attachments_unattached_idx ON attachments (created_at) WHERE message_id IS NULL AND removed_at IS NULL`);
    await queryRunner.query(`CREATE INDEX attachments_removed_idx ON attachments (removed_at) WHERE removed_at IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX attachments_storing_idx ON attachments (created_at) WHERE state = 'storing'`);

    await queryRunner.query(`
      CREATE FUNCTION remove_deleted_message_attachments() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE attachments SET removed_at = NEW.deleted_at WHERE message_id = NEW.id AND removed_at IS NULL;
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER messages_deleted_remove_attachments
        AFTER UPDATE OF deleted_at ON messages
        FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
        EXECUTE FUNCTION remove_deleted_message_attachments()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER messages_deleted_remove_attachments ON messages`);
    await queryRunner.query(`DROP FUNCTION remove_deleted_message_attachments()`);
    await queryRunner.query(`DROP TABLE attachments`);
    await queryRunner.query(`ALTER TABLE messages DROP COLUMN has_attachments`);
  }
}
