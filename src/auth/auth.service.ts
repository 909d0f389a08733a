import { Injectable, UnauthorizedException } from '@nestjs/common';
import { UsersService } from '../users/users.service.js';
import { LastSeenRecorder } from '../users/last-seen.recorder.js';
import { toUserView } from '../users/user.view.js';
import type { Session } from './auth.views.js';
import type { LoginDto } from './dto/login.dto.js';
import type { RegisterDto } from './dto/register.dto.js';
import { PasswordHasher } from './password-hasher.js';
import { TokenService } from './token.service.js';

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly lastSeen: LastSeenRecorder,
  ) {}

  async register(dto: RegisterDto): Promise<Session> {
    const user = await this.users.create(dto.username, await this.hasher.hash(dto.password), dto.displayName);
    return { user: toUserView(user), accessToken: await this.tokens.issueAccessToken(user) };
  }

  async login(dto: LoginDto): Promise<Session> {
    const user = await this.users.findWithPasswordHash(dto.username);
    if (!user) {
      await this.hasher.verifyAgainstNothing(dto.password);
      throw new UnauthorizedException('Invalid username or password');
    }
    const valid = await this.hasher.verify(dto.password, user.passwordHash);
    // A deactivated user gets the same answer as a wrong password.
    if (!valid || !user.active) throw new UnauthorizedException('Invalid username or password');
    this.lastSeen.seen(user.id);
    return { user: toUserView(user), accessToken: await this.tokens.issueAccessToken(user) };
  }
}
