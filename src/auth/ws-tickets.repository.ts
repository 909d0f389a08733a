import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AuthUser, Caller } from '../common/caller/caller.js';

/** Every statement on `ws_tickets`. Tickets arrive here as hashes: a leaked table holds no usable tickets. */
@Injectable()
export class WsTicketsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Stores a ticket of `caller` until `expiresAt`, sweeping expired ones in the same statement. */
  async insert(ticketHash: string, caller: Caller, expiresAt: Date): Promise<void> {
    await this.dataSource.query(
      `WITH swept AS (DELETE FROM ws_tickets WHERE expires_at < now())
       INSERT INTO ws_tickets (ticket_hash, user_id, token_version, session_id, access_expires_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [ticketHash, caller.id, caller.tokenVersion, caller.sessionId, new Date(caller.expiresAt * 1000), expiresAt],
    );
  }

  /**
   * Deletes a ticket, so it works once, and returns its user if the ticket is unexpired, the
   * user still active at its token version, its session live and the access token that asked
   * for it unexpired. The user and session checks are part of this one statement.
   */
  async redeem(ticketHash: string): Promise<AuthUser | undefined> {
    const rows: AuthUser[] = await this.dataSource.query(
      `WITH redeemed AS (
         DELETE FROM ws_tickets WHERE ticket_hash = $1
         RETURNING user_id, token_version, session_id, access_expires_at, expires_at
       )
       SELECT u.id, u.username, u.role, u.token_version AS "tokenVersion", r.session_id::text AS "sessionId",
              floor(extract(epoch FROM r.access_expires_at))::integer AS "expiresAt"
         FROM redeemed r
         JOIN users u ON u.id = r.user_id
         JOIN sessions s ON s.id = r.session_id AND s.ended_at IS NULL
        WHERE r.expires_at >= now() AND r.access_expires_at > now() AND u.active AND u.token_version = r.token_version`,
      [ticketHash],
    );
    return rows[0];
  }
}
