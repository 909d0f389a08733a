import { DynamicModule, Module } from '@nestjs/common';
import { AdminAccountsService } from '../admin/admin-accounts.service.js';
import { PasswordHasher } from '../auth/password-hasher.js';
import type { AppConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { DatabaseModule } from '../database/database.module.js';
import { UsersModule } from '../users/users.module.js';

/** Just what the command line needs: configuration, the database (migrated), users, admin accounts. */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [ConfigModule.forRoot(config), DatabaseModule, UsersModule],
      providers: [PasswordHasher, AdminAccountsService],
    };
  }
}
