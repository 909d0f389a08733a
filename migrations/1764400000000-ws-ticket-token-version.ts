import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A WebSocket ticket carries the token version of the access token that asked for it, so that
 * revoking a user's tokens (deactivation, a password change) revokes its unredeemed tickets
 * too. Tickets live 60 s; those issued before this migration are dropped rather than guessed at.
 */
export class WsTicketTokenVersion1764400000000 implements MigrationInterface {
  name = 'WsTicketTokenVersion1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM ws_tickets`);
    await queryRunner.query(`ALTER TABLE ws_tickets ADD COLUMN token_version integer NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE ws_tickets DROP COLUMN token_version`);
  }
}
