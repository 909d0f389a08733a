import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the admin API searches and filters by.
 *
 * `search_vector` is the full-text form of a message body, kept by PostgreSQL itself (a stored
 * generated column, so no trigger and no code path can forget it) and indexed with GIN. It uses
 * the `simple` configuration, not `english`: chat is short, multilingual and full of names,
 * slang and misspellings, and a moderator looking for a word wants that word. `simple` lower-cases
 * and splits on word boundaries, but neither stems ("running" does not match "run") nor drops stop
 * words, and it treats every language alike; `english` would stem English and mangle the rest.
 * A tombstone's body is NULL, so its vector is empty and it never matches a search.
 *
 * Adding a stored column rewrites `messages` once, under a lock: on a large installation, run
 * this migration in a quiet hour.
 */
export class AdminSearch1764000000000 implements MigrationInterface {
  name = 'AdminSearch1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE messages ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, coalesce(body, ''))) STORED`);
    await queryRunner.query(`CREATE INDEX messages_search_vector_idx ON messages USING gin (search_vector)`);
    // Filtering by sender (admin search, per-user message counts), newest first.
    await queryRunner.query(`CREATE INDEX messages_sender_id_idx ON messages (sender_id, id)`);
    // Time ranges (admin search) and the last-24-hours count of the stats.
    await queryRunner.query(`CREATE INDEX messages_created_at_idx ON messages (created_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX messages_created_at_idx`);
    await queryRunner.query(`DROP INDEX messages_sender_id_idx`);
    await queryRunner.query(`DROP INDEX messages_search_vector_idx`);
    await queryRunner.query(`ALTER TABLE messages DROP COLUMN search_vector`);
  }
}
