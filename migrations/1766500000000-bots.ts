import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bots: users with `bot` set and the user who made them (`owner_id`). A bot logs in with no
 * password (its hash is not a scrypt hash, so every password is wrong): it calls with a
 * long-lived token, of which only an HMAC-SHA256 (keyed with the server secret) is stored, in
 * `bot_tokens`, looked up by that hash.
 *
 * Each token is bound to a session row that never expires: every check of a caller already
 * requires its session (the active-users statement, send_messages, the message read, ws
 * tickets), so deleting the session when the token is rotated, or the bot deleted, cuts the old
 * token on the very next request on every instance, with no new check on the request path.
 */
export class Bots1766500000000 implements MigrationInterface {
  name = 'Bots1766500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE users ADD COLUMN bot boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`ALTER TABLE users ADD COLUMN owner_id bigint REFERENCES users (id)`);
    await queryRunner.query(`CREATE INDEX users_owner_id_idx ON users (owner_id) WHERE owner_id IS NOT NULL`);
    await queryRunner.query(`
      CREATE TABLE bot_tokens (
        bot_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        token_hash text NOT NULL UNIQUE,
        session_id bigint NOT NULL UNIQUE REFERENCES sessions (id) ON DELETE CASCADE
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE bot_tokens`);
    await queryRunner.query(`DROP INDEX users_owner_id_idx`);
    await queryRunner.query(`ALTER TABLE users DROP COLUMN owner_id`);
    await queryRunner.query(`ALTER TABLE users DROP COLUMN bot`);
  }
}
