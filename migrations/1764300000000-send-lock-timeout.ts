import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A send batch waits at most 2 s for a conversation's lock. Sends are batched one statement at
 * a time, so a batch stuck behind a long transaction would hold back every send of its
 * instance; after 2 s PostgreSQL refuses it (55P03), its sends run again alone, and only
 * those into the busy conversation fail (503, Retry-After). Parley's own transactions hold a
 * conversation's lock for milliseconds.
 */
export class SendLockTimeout1764300000000 implements MigrationInterface {
  name = 'SendLockTimeout1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER FUNCTION send_messages(bigint[], bigint[], integer[], text[], text[]) SET lock_timeout = '2s'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER FUNCTION send_messages(bigint[], bigint[], integer[], text[], text[]) RESET lock_timeout`);
  }
}
