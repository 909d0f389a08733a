import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users, conversations, memberships, messages and WebSocket tickets.
 *
 * Every conversation row carries two counters: `last_seq` numbers its messages 1, 2, 3, …
 * and `last_change_seq` numbers every change (a new message, an edit, a delete). Bumping
 * them takes the row lock, so writes to one conversation commit in counter order and the
 * numbers have no gaps: a client that remembers the last number it saw can ask for
 * everything after it and miss nothing.
 */
export class InitialSchema1763900000000 implements MigrationInterface {
  name = 'InitialSchema1763900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE users (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        username      text NOT NULL,
        display_name  text NOT NULL,
        password_hash text NOT NULL,
        role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
        active        boolean NOT NULL DEFAULT true,
        -- Bumped to invalidate every token issued before (deactivation, password change).
        token_version integer NOT NULL DEFAULT 0,
        created_at    timestamptz NOT NULL DEFAULT now(),
        last_seen_at  timestamptz
      )`);
    // Usernames are stored lower-cased, so this unique index makes them case-insensitive.
    await queryRunner.query(`CREATE UNIQUE INDEX users_username_key ON users (username)`);

    await queryRunner.query(`
      CREATE TABLE conversations (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        type            text NOT NULL CHECK (type IN ('direct', 'group')),
        title           text,
        owner_id        bigint REFERENCES users (id),
        -- "<smaller user id>:<larger user id>" for direct conversations: one per pair.
        direct_key      text UNIQUE,
        last_seq        bigint NOT NULL DEFAULT 0,
        last_change_seq bigint NOT NULL DEFAULT 0,
        created_at      timestamptz NOT NULL DEFAULT now(),
        -- Last activity (message or membership change): the conversation list's order.
        updated_at      timestamptz NOT NULL DEFAULT now(),
        CHECK ((type = 'direct') = (direct_key IS NOT NULL))
      )`);

    await queryRunner.query(`
      CREATE TABLE conversation_members (
        conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        user_id         bigint NOT NULL REFERENCES users (id),
        last_read_seq   bigint NOT NULL DEFAULT 0,
        joined_at       timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (conversation_id, user_id)
      )`);
    // A user's conversations (the list, and the fan-out of membership).
    await queryRunner.query(`CREATE INDEX conversation_members_user_idx ON conversation_members (user_id, conversation_id)`);

    await queryRunner.query(`
      CREATE TABLE messages (
        id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        conversation_id   bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        seq               bigint NOT NULL,
        change_seq        bigint NOT NULL,
        sender_id         bigint NOT NULL REFERENCES users (id),
        body              text,
        client_message_id text,
        created_at        timestamptz NOT NULL DEFAULT now(),
        edited_at         timestamptz,
        deleted_at        timestamptz,
        CHECK ((body IS NULL) = (deleted_at IS NOT NULL))
      )`);
    // History pages (before/after a seq) and the gapless-seq guarantee.
    await queryRunner.query(`CREATE UNIQUE INDEX messages_conversation_seq_key ON messages (conversation_id, seq)`);
    // The changes feed used to catch up on edits and deletes.
    await queryRunner.query(`CREATE UNIQUE INDEX messages_conversation_change_seq_key ON messages (conversation_id, change_seq)`);
    // Idempotent retries: one message per sender and clientMessageId.
    await queryRunner.query(`
      CREATE UNIQUE INDEX messages_sender_client_message_id_key
        ON messages (sender_id, client_message_id) WHERE client_message_id IS NOT NULL`);

    await queryRunner.query(`
      CREATE TABLE ws_tickets (
        ticket_hash text PRIMARY KEY,
        user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        expires_at  timestamptz NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX ws_tickets_expires_at_idx ON ws_tickets (expires_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ws_tickets`);
    await queryRunner.query(`DROP TABLE messages`);
    await queryRunner.query(`DROP TABLE conversation_members`);
    await queryRunner.query(`DROP TABLE conversations`);
    await queryRunner.query(`DROP TABLE users`);
  }
}
