import { Inject, Injectable, Logger, NotFoundException, UnauthorizedException } from '@nestjs/common';
import type { Caller } from '../common/caller/caller.js';
import { newRefreshToken } from '../auth/auth.service.js';
import type { TokenPair } from '../auth/auth.views.js';
import { SessionsRepository } from '../auth/sessions.repository.js';
import { sha256, TokenService } from '../auth/token.service.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { CloseCode } from '../notifications/frames.js';
import { Notifier } from '../notifications/notifier.js';
import type { SessionList } from './sessions.views.js';

const INVALID_REFRESH_TOKEN = 'Invalid or expired refresh token';

/**
 * Refresh-token rotation, logout and a user's list of sessions. Ending a session stops its
 * access tokens at once (every authentication checks the session) and closes its sockets on
 * every instance through the Notifier.
 */
@Injectable()
export class SessionsService {
  private readonly logger = new Logger(SessionsService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly sessions: SessionsRepository,
    private readonly tokens: TokenService,
    private readonly notifier: Notifier,
  ) {}

  /**
   * Exchanges a refresh token for a new pair; the one given is used up. A used-up token
   * presented again was copied (by an attacker, or by the owner if the attacker used it first):
   * the whole session ends, as the contract asks, since which holder is legitimate is unknown.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const usedHash = sha256(refreshToken);
    const next = newRefreshToken();
    const rotated = await this.sessions.rotate(usedHash, sha256(next), this.config.refreshTokenTtlSeconds);
    if (rotated) {
      const access = await this.tokens.issueAccessToken({ id: rotated.userId, tokenVersion: rotated.tokenVersion }, rotated.sessionId);
      return { ...access, refreshToken: next };
    }
    const replayed = await this.sessions.endReplayed(usedHash);
    if (replayed) {
      this.logger.warn(`A used refresh token was presented again: ended session ${replayed.sessionId} of user ${replayed.userId}`);
      this.notifier.disconnectSession(replayed.userId, replayed.sessionId, CloseCode.Unauthorized, 'session ended');
    }
    throw new UnauthorizedException(INVALID_REFRESH_TOKEN);
  }

  /** Ends the caller's own session. */
  async logout(caller: Caller): Promise<void> {
    await this.end(caller, caller.sessionId);
  }

  async list(caller: Caller): Promise<SessionList> {
    const rows = await this.sessions.list(caller.id);
    return { items: rows.map((row) => ({ ...row, current: row.id === caller.sessionId })) };
  }

  /** Ends one of the caller's sessions; another user's is as unknown as one that never was (404). */
  async revoke(caller: Caller, sessionId: string): Promise<void> {
    if (!(await this.end(caller, sessionId))) throw new NotFoundException('Session not found');
  }

  private async end(caller: Caller, sessionId: string): Promise<boolean> {
    const ended = await this.sessions.end(caller.id, sessionId);
    if (ended) this.notifier.disconnectSession(caller.id, sessionId, CloseCode.Unauthorized, 'session ended');
    return ended;
  }
}
