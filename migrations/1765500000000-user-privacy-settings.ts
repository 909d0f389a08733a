import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a user shares with the members of its conversations: read receipts and presence. Both
 * default to shared, as in most chat products; `PATCH /api/v1/users/me` changes them.
 */
export class UserPrivacySettings1765500000000 implements MigrationInterface {
  name = 'UserPrivacySettings1765500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE users
        ADD COLUMN share_read_receipts boolean NOT NULL DEFAULT true,
        ADD COLUMN share_presence boolean NOT NULL DEFAULT true`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE users DROP COLUMN share_read_receipts, DROP COLUMN share_presence`);
  }
}
