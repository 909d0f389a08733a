import { Injectable, Logger } from '@nestjs/common';
import { PasswordHasher } from '../auth/password-hasher.js';
import { UsersRepository } from '../users/users.repository.js';
import { UsersService } from '../users/users.service.js';
import { checkAdminCredentials } from './admin-credentials.js';

export type EnsureAdminOutcome = 'created' | 'promoted' | 'unchanged';

/**
 * The first admin: ADMIN_USERNAME / ADMIN_PASSWORD at start-up, or `create-admin` on the
 * command line. The named account ends up an active admin whose password is the one given.
 * If the account already existed with another password, that password is replaced and its
 * old tokens are revoked: whoever held that name before has no claim on an admin account.
 */
@Injectable()
export class AdminAccountsService {
  private readonly logger = new Logger(AdminAccountsService.name);

  constructor(
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
  ) {}

  async ensureAdmin(rawUsername: string, password: string): Promise<EnsureAdminOutcome> {
    checkAdminCredentials(rawUsername, password);
    const username = UsersService.normalizeUsername(rawUsername);
    // Two instances starting at once may both try to create it: the loser promotes instead.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const existing = await this.users.findAccount(username);
      if (!existing) {
        const id = await this.users.insertAdmin(username, await this.hasher.hash(password));
        if (!id) continue;
        this.logger.log(`Created admin ${username} (${id})`);
        return 'created';
      }
      const samePassword = await this.hasher.verify(password, existing.passwordHash);
      if (samePassword && existing.role === 'admin' && existing.active) return 'unchanged';
      await this.users.promoteAccount(existing.id, samePassword ? undefined : await this.hasher.hash(password));
      this.logger.log(`Made ${username} (${existing.id}) an active admin${samePassword ? '' : ' with the given password'}`);
      return 'promoted';
    }
    throw new Error(`Could not create or promote ${username}`);
  }
}
