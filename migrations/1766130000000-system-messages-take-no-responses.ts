import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * System messages take no replies and no reactions (API-next B): `message_accepts_responses`,
 * which the reply and reaction statements ask, said yes to every message until messages had a
 * kind (the message-features migration ran before the system-messages one).
 */
export class SystemMessagesTakeNoResponses1766130000000 implements MigrationInterface {
  name = 'SystemMessagesTakeNoResponses1766130000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION message_accepts_responses(message messages) RETURNS boolean
        LANGUAGE sql IMMUTABLE AS $$ SELECT message.kind = 'text' $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION message_accepts_responses(message messages) RETURNS boolean
        LANGUAGE sql IMMUTABLE AS $$ SELECT true $$`);
  }
}
