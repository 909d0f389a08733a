import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The conversation list's order, reachable from the member's side. The list is "most recently
 * active first" (`conversations.updated_at`), which no index on `conversation_members` could
 * reach: every page joined all of the user's memberships to their conversations and sorted them,
 * and a user in 2,000 conversations paid that for every page.
 *
 * Each member row now carries `activity_at`, a copy of its conversation's `updated_at` that is
 * at most a second old: the conversation's row remembers when it last copied it to its members
 * (`members_activity_at`), and a change to `updated_at` a second or more past that copies it to
 * all of them. So a busy group of 500 rewrites its 500 member rows at most once a second, not
 * once a message, and for every member row `updated_at - 1 s < activity_at <= updated_at`.
 * ConversationsRepository.listForMember reads a page through the index on
 * `(user_id, activity_at)` and orders the few candidates of the last second exactly.
 */
export class ConversationListActivity1766550000000 implements MigrationInterface {
  name = 'ConversationListActivity1766550000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE conversations ADD COLUMN members_activity_at timestamptz NOT NULL DEFAULT now()`);
    await queryRunner.query(`UPDATE conversations SET members_activity_at = updated_at`);
    await queryRunner.query(`ALTER TABLE conversation_members ADD COLUMN activity_at timestamptz NOT NULL DEFAULT now()`);
    await queryRunner.query(`UPDATE conversation_members me SET activity_at = c.updated_at FROM conversations c WHERE c.id = me.conversation_id`);
    await queryRunner.query(`CREATE INDEX conversation_members_activity_idx ON conversation_members (user_id, activity_at)`);
    // After the statement (a send also moves its sender's member row, in the same statement),
    // and on `updated_at` only: the copy's own update of the row does not fire it again. A
    // member added later starts at now(), the time its transaction moves updated_at to.
    await queryRunner.query(`
      CREATE FUNCTION conversations_copy_activity() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE conversation_members SET activity_at = NEW.updated_at WHERE conversation_id = NEW.id;
        UPDATE conversations SET members_activity_at = NEW.updated_at WHERE id = NEW.id;
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER conversations_copy_activity AFTER UPDATE OF updated_at ON conversations
        FOR EACH ROW WHEN (NEW.updated_at >= OLD.members_activity_at + interval '1 second')
        EXECUTE FUNCTION conversations_copy_activity()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER conversations_copy_activity ON conversations`);
    await queryRunner.query(`DROP FUNCTION conversations_copy_activity()`);
    await queryRunner.query(`DROP INDEX conversation_members_activity_idx`);
    await queryRunner.query(`ALTER TABLE conversation_members DROP COLUMN activity_at`);
    await queryRunner.query(`ALTER TABLE conversations DROP COLUMN members_activity_at`);
  }
}

