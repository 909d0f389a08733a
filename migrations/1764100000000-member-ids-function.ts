import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `conversation_member_ids(conversation)`: the members of a conversation, read with a fresh
 * snapshot. Sending a message calls it in the same statement that takes the next seq, so the
 * send needs one round trip instead of two. It must be VOLATILE: PostgreSQL gives a volatile
 * function a new snapshot for each query it runs, so it reads the membership as of the moment
 * the send holds the conversation's row lock, including a change committed while the send
 * waited for that lock (membership changes take the same lock). A STABLE function, or a plain
 * subquery, would read the membership as of the start of the statement.
 */
export class MemberIdsFunction1764100000000 implements MigrationInterface {
  name = 'MemberIdsFunction1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION conversation_member_ids(conversation bigint) RETURNS text[]
        LANGUAGE sql VOLATILE
        AS $$ SELECT array_agg(user_id::text) FROM conversation_members WHERE conversation_id = conversation $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION conversation_member_ids(bigint)`);
  }
}
