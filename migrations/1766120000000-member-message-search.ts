import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Message search for members: one GIN index over `ARRAY[conversation_id]` and `search_vector`,
 * so that one bitmap index scan answers "these words, in any of these conversations": the
 * condition `ARRAY[conversation_id] && <the caller's conversations>` and the words' match are
 * intersected inside the index, and only the caller's matching messages are read from the
 * table. docs/architecture.md ("Searching messages") shows the plans on five million messages.
 *
 * Why an array rather than the column itself (through the btree_gin extension): for
 * `conversation_id = ANY (…)` a GIN index runs one scan per conversation, each reading the
 * words' postings again (300 conversations and a common word: 90,000 pages), and the planner
 * preferred to AND the words' bitmap with one from the btree (conversation_id, …) indexes,
 * which lists every message of the caller's conversations and goes lossy. `&&` is served by no
 * btree index, and GIN answers an overlap in one scan (about 1,100 pages for 300 conversations
 * whatever the words). Both operator classes are built in.
 *
 * It replaces the GIN index of search_vector alone (admin-search migration): a GIN index over
 * several columns serves a condition on any one of them as well, so the admin search, which
 * names no conversation, uses it too, and each message is indexed once, not twice. Building it
 * reads `messages` once under a lock that holds writes back: on a large installation, run this
 * migration in a quiet hour.
 */
export class MemberMessageSearch1766120000000 implements MigrationInterface {
  name = 'MemberMessageSearch1766120000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX messages_member_search_idx ON messages USING gin ((ARRAY[conversation_id]), search_vector)`);
    await queryRunner.query(`DROP INDEX messages_search_vector_idx`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX messages_search_vector_idx ON messages USING gin (search_vector)`);
    await queryRunner.query(`DROP INDEX messages_member_search_idx`);
  }
}
