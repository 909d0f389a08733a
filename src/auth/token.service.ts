import { createHash, randomBytes } from 'node:crypto';
import { Injectable, UnauthorizedException } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { Batcher, inInputOrder } from '../common/batcher.js';
import { isId } from '../common/ids.js';
import { isStatementRefused } from '../common/pg-errors.js';
import type { AuthUser, Caller } from '../common/caller/caller.js';
import type { User } from '../users/user.entity.js';
import { SessionsRepository, type CurrentCaller } from './sessions.repository.js';
import { VerifiedTokens } from '../common/hot-path/verified-tokens.js';
import { WsTicketsRepository } from './ws-tickets.repository.js';
import { BOT_TOKEN_EXPIRES_AT, BotTokens, isBotToken } from './bot-tokens.js';

interface AccessTokenClaims {
  sub: string;
  /** The user's token_version when the token was issued; bumping it revokes the token. */
  tv: number;
  /** The session (sessions.id) the token was issued to; ending the session revokes the token. */
  sid: string;
}

const TICKET_TTL_MS = 60_000;
/** About 4 MB when full; beyond it the oldest tokens are just verified again. */
const VERIFIED_TOKENS_KEPT = 10_000;
const INVALID_TOKEN = 'Invalid or expired access token';

const ACTIVE_USER_BATCHES_IN_FLIGHT = 1;
const ACTIVE_USER_BATCH_MAX = 128;
const STILL_CURRENT_CHUNK = 1000;

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
    private readonly sessions: SessionsRepository,
    private readonly wsTickets: WsTicketsRepository,
    private readonly botTokens: BotTokens,
  ) {}

  /** An access token of `user` in `sessionId`, and when it expires. */
  async issueAccessToken(
    user: Pick<User, 'id' | 'tokenVersion'>,
    sessionId: string,
  ): Promise<{ accessToken: string; expiresAt: Date }> {
    const claims: AccessTokenClaims = { sub: user.id, tv: user.tokenVersion, sid: sessionId };
    const accessToken = await this.jwt.signAsync(claims);
    const { exp } = this.jwt.decode<{ exp: number }>(accessToken);
    return { accessToken, expiresAt: new Date(exp * 1000) };
  }

  /** The caller of a token whose signature was verified before and has not expired, if any. */
  verifiedBefore(accessToken: string): Caller | undefined {
    const known = this.verifiedTokens.get(accessToken);
    return known && { ...known };
  }

  /**
   * Verifies an access token's signature and expiry; does not read the database. A bot token is
   * looked up once by its hash and then kept like a verified access token: a rotated or deleted
   * one names a session that no longer exists, which every check of a caller refuses.
   */
  async verify(accessToken: string): Promise<Caller> {
    const known = this.verifiedBefore(accessToken);
    if (known) return known;
    if (isBotToken(accessToken)) return this.verifyBotToken(accessToken);
    let claims: AccessTokenClaims & { exp?: number };
    try {
      claims = await this.jwt.verifyAsync<AccessTokenClaims & { exp?: number }>(accessToken);
    } catch {
      throw new UnauthorizedException(INVALID_TOKEN);
    }
    // Only what issueAccessToken signs: a token that never expires, or names no user id,
    // was not made here (its secret has leaked, or been set to another service's). Tokens
    // issued before sessions existed name no session, and are refused: their users log in again.
    if (!isId(claims.sub) || !Number.isSafeInteger(claims.tv) || !isId(claims.sid) || typeof claims.exp !== 'number') {
      throw new UnauthorizedException(INVALID_TOKEN);
    }
    const caller: Caller = { id: claims.sub, tokenVersion: claims.tv, sessionId: claims.sid, expiresAt: claims.exp };
    this.verifiedTokens.add(accessToken, caller, claims.exp);
    return { ...caller };
  }

  private async verifyBotToken(token: string): Promise<Caller> {
    const caller = await this.botTokens.findCaller(token);
    if (!caller) throw new UnauthorizedException(INVALID_TOKEN);
    this.verifiedTokens.add(token, caller, BOT_TOKEN_EXPIRES_AT);
    return { ...caller };
  }

  /** Verifies an access token and that its user is active and has not revoked it. */
  async authenticate(accessToken: string): Promise<AuthUser> {
    const caller = await this.verify(accessToken);
    const user = await this.activeUsers.submit(caller);
    if (!user) throw new UnauthorizedException(INVALID_TOKEN);
    return { ...caller, ...user };
  }

  /**
   * For routes whose statement checks the caller (see CallerCheckedByQuery), when it found
   * nothing: throws 401 if that is because the caller is no longer active at this token version
   * or its session has ended.
   */
  async requireCurrent(caller: Caller): Promise<void> {
    if (!(await this.activeUsers.submit(caller))) throw new UnauthorizedException(INVALID_TOKEN);
  }

  /**
   * Which of these callers are still active at their token version and in a live session, read a thousand at a time
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

  private async findActive(callers: readonly Caller[]): Promise<(CurrentCaller | undefined)[]> {
    return inInputOrder<CurrentCaller>(await this.sessions.findCurrentCallers(callers), callers.length);
  }

  /**
   * A ticket for browsers, which cannot set headers on a WebSocket: single use, 60 s, and only
   * while the caller's token version and session stand (revoking the tokens revokes the
   * tickets). The socket it opens lives no longer than the access token that asked for it.
   */
  async issueWsTicket(caller: Caller): Promise<{ ticket: string; expiresAt: Date }> {
    const ticket = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + TICKET_TTL_MS);
    // Only a hash is stored: a leaked table holds no usable tickets.
    await this.wsTickets.insert(sha256(ticket), caller, expiresAt);
    return { ticket, expiresAt };
  }

  /**
   * Redeems a ticket (deleting it, so it works once) and returns its user, if still active at
   * its token version, in a live session, and the access token that asked for it unexpired.
   */
  redeemWsTicket(ticket: string): Promise<AuthUser | undefined> {
    return this.wsTickets.redeem(sha256(ticket));
  }
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
