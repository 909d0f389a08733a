import { randomBytes } from 'node:crypto';
import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { UsersService } from '../users/users.service.js';
import { LastSeenRecorder } from '../users/last-seen.recorder.js';
import { toSelfView } from '../users/user.view.js';
import type { User } from '../users/user.entity.js';
import type { Session, TokenPair } from './auth.views.js';
import type { LoginDto } from './dto/login.dto.js';
import type { RegisterDto } from './dto/register.dto.js';
import { PasswordHasher } from './password-hasher.js';
import { SessionsRepository } from './sessions.repository.js';
import { sha256, TokenService } from './token.service.js';

/** Longer user agents are cut: the column is for telling one's devices apart, not forensics. */
const USER_AGENT_MAX = 256;

@Injectable()
export class AuthService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly users: UsersService,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly sessions: SessionsRepository,
    private readonly lastSeen: LastSeenRecorder,
  ) {}

  /** `clientGone`: the caller's connection closed; a hash still queued for it is dropped. */
  async register(dto: RegisterDto, userAgent: string | undefined, clientGone?: AbortSignal): Promise<Session> {
    const user = await this.users.create(dto.username, await this.hasher.hash(dto.password, clientGone), dto.displayName);
    return { user: toSelfView(user), ...(await this.openSession(user, userAgent)) };
  }

  async login(dto: LoginDto, userAgent: string | undefined, clientGone?: AbortSignal): Promise<Session> {
    const user = await this.users.findWithPasswordHash(dto.username);
    if (!user) {
      await this.hasher.verifyAgainstNothing(dto.password, clientGone);
      throw new UnauthorizedException('Invalid username or password');
    }
    const valid = await this.hasher.verify(dto.password, user.passwordHash, clientGone);
    // A deactivated user gets the same answer as a wrong password.
    if (!valid || !user.active) throw new UnauthorizedException('Invalid username or password');
    this.lastSeen.seen(user.id);
    return { user: toSelfView(user), ...(await this.openSession(user, userAgent)) };
  }

  /** A new session, with its first refresh token and an access token in it. */
  private async openSession(user: Pick<User, 'id' | 'tokenVersion'>, userAgent: string | undefined): Promise<TokenPair> {
    const refreshToken = newRefreshToken();
    const sessionId = await this.sessions.create(
      user,
      userAgent ? userAgent.slice(0, USER_AGENT_MAX) : null,
      sha256(refreshToken),
      this.config.refreshTokenTtlSeconds,
    );
    return { ...(await this.tokens.issueAccessToken(user, sessionId)), refreshToken };
  }
}

/** 256 random bits: unguessable, so a fast hash (SHA-256) is enough to store it by. */
export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}
