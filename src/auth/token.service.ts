import { createHash, randomBytes } from 'node:crypto';
import { Injectable, UnauthorizedException } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Batcher, inInputOrder } from '../common/batcher.js';
import { isId } from '../common/ids.js';
import { isStatementRefused } from '../common/pg-errors.js';
import { PreparedQueries, type PreparedStatement } from '../database/prepared-queries.js';
import type { User } from '../users/user.entity.js';
import type { AuthUser, Caller } from './auth-user.js';
import { VerifiedTokens } from './verified-tokens.js';

interface AccessTokenClaims {
  sub: string;
  /** The user's token_version when the token was issued; bumping it revokes the token. */
  tv: number;
}

const TICKET_TTL_MS = 60_000;
/** About 4 MB when full; beyond it the oldest tokens are just verified again. */
const VERIFIED_TOKENS_KEPT = 10_000;
const INVALID_TOKEN = 'Invalid or expired access token';

/**
 * Run for every authenticated request and socket, batched like sends (MessagesRepository):
 * each (user, token version) pair answered with the user if active at that version.
 */
const ACTIVE_USERS: PreparedStatement = {
  name: 'auth_active_users',
  text: `SELECT r.item, u.id, u.username, u.role
           FROM unnest($1::bigint[], $2::integer[]) WITH ORDINALITY AS r (user_id, token_version, item)
           JOIN users u ON u.id = r.user_id AND u.active AND u.token_version = r.token_version`,
};
const ACTIVE_USER_BATCHES_IN_FLIGHT = 1;
const ACTIVE_USER_BATCH_MAX = 128;
const STILL_CURRENT_CHUNK = 1000;

type ActiveUser = Omit<AuthUser, 'tokenVersion'>;

/**
 * Access tokens (signed JWTs) and single-use WebSocket tickets. Every authentication also
 * reads the user's row, so deactivation and revocation take effect on the very next request
 * on every instance.
 */
@Injectable()
export class TokenService {
  private readonly verifiedTokens = new VerifiedTokens<Caller>(VERIFIED_TOKENS_KEPT);
  private readonly activeUsers = new Batcher((callers: Caller[]) => this.findActive(callers), {
    maxInFlight: ACTIVE_USER_BATCHES_IN_FLIGHT,
    maxBatch: ACTIVE_USER_BATCH_MAX,
    canRetryAlone: isStatementRefused,
  });

  constructor(
    private readonly jwt: JwtService,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly prepared: PreparedQueries,
  ) {}

  issueAccessToken(user: Pick<User, 'id' | 'tokenVersion'>): Promise<string> {
    const claims: AccessTokenClaims = { sub: user.id, tv: user.tokenVersion };
    return this.jwt.signAsync(claims);
  }

  /** The caller of a token whose signature was verified before and has not expired, if any. */
  verifiedBefore(accessToken: string): Caller | undefined {
    const known = this.verifiedTokens.get(accessToken);
    return known && { ...known };
  }

  /** Verifies an access token's signature and expiry; does not read the database. */
  async verify(accessToken: string): Promise<Caller> {
    const known = this.verifiedBefore(accessToken);
    if (known) return known;
    let claims: AccessTokenClaims & { exp?: number };
    try {
      claims = await this.jwt.verifyAsync<AccessTokenClaims & { exp?: number }>(accessToken);
    } catch {
      throw new UnauthorizedException(INVALID_TOKEN);
    }
    // Only what issueAccessToken signs: a token that never expires, or names no user id,
    // was not made here (its secret has leaked, or been set to another service's).
    if (!isId(claims.sub) || !Number.isSafeInteger(claims.tv) || typeof claims.exp !== 'number') {
      throw new UnauthorizedException(INVALID_TOKEN);
    }
    const caller = { id: claims.sub, tokenVersion: claims.tv };
    this.verifiedTokens.add(accessToken, caller, claims.exp);
    return { ...caller };
  }

  /** Verifies an access token and that its user is active and has not revoked it. */
  async authenticate(accessToken: string): Promise<AuthUser> {
    const caller = await this.verify(accessToken);
    const user = await this.activeUsers.submit(caller);
    if (!user) throw new UnauthorizedException(INVALID_TOKEN);
    return { ...user, tokenVersion: caller.tokenVersion };
  }

  /**
   * For routes whose statement checks the caller (see CallerCheckedByQuery), when it found
   * nothing: throws 401 if that is because the caller is no longer active at this token version.
   */
  async requireCurrent(caller: Caller): Promise<void> {
    if (!(await this.activeUsers.submit(caller))) throw new UnauthorizedException(INVALID_TOKEN);
  }

  /**
   * Which of these callers are still active at their token version, read a thousand at a time
   * and apart from the request path's batches, which a recheck of every open socket would
   * otherwise hold up.
   */
  async stillCurrent(callers: readonly Caller[]): Promise<boolean[]> {
    const current: boolean[] = [];
    for (let start = 0; start < callers.length; start += STILL_CURRENT_CHUNK) {
      const found = await this.findActive(callers.slice(start, start + STILL_CURRENT_CHUNK));
      current.push(...found.map((user) => user !== undefined));
    }
    return current;
  }

  private async findActive(callers: readonly Caller[]): Promise<(ActiveUser | undefined)[]> {
    const rows = await this.prepared.rows<ActiveUser & { item: string }>(ACTIVE_USERS, [
      callers.map((caller) => caller.id),
      callers.map((caller) => caller.tokenVersion),
    ]);
    return inInputOrder(rows, callers.length);
  }

  /**
   * A ticket for browsers, which cannot set headers on a WebSocket: single use, 60 s, and only
   * while the caller's token version stands (revoking the tokens revokes the tickets).
   */
  async issueWsTicket(caller: Caller): Promise<{ ticket: string; expiresAt: Date }> {
    const ticket = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + TICKET_TTL_MS);
    // Only a hash is stored: a leaked table holds no usable tickets. Expired ones are swept here.
    await this.dataSource.query(
      `WITH swept AS (DELETE FROM ws_tickets WHERE expires_at < now())
       INSERT INTO ws_tickets (ticket_hash, user_id, token_version, expires_at) VALUES ($1, $2, $3, $4)`,
      [sha256(ticket), caller.id, caller.tokenVersion, expiresAt],
    );
    return { ticket, expiresAt };
  }

  /** Redeems a ticket (deleting it, so it works once) and returns its user, if still active at its token version. */
  async redeemWsTicket(ticket: string): Promise<AuthUser | undefined> {
    const rows: AuthUser[] = await this.dataSource.query(
      `WITH redeemed AS (
         DELETE FROM ws_tickets WHERE ticket_hash = $1 RETURNING user_id, token_version, expires_at
       )
       SELECT u.id, u.username, u.role, u.token_version AS "tokenVersion"
         FROM redeemed r JOIN users u ON u.id = r.user_id
        WHERE r.expires_at >= now() AND u.active AND u.token_version = r.token_version`,
      [sha256(ticket)],
    );
    return rows[0];
  }
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
