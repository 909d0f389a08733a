import { DynamicModule, Module } from '@nestjs/common';
import { AdminAccountsService } from '../admin/admin-accounts.service.js';
import { AdminRepository } from '../admin/admin.repository.js';
import { PasswordHasher } from '../auth/password-hasher.js';
import type { AppConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { DatabaseModule } from '../database/database.module.js';

/** Just what the command line needs: configuration, the database (migrated), admin accounts. */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [ConfigModule.forRoot(config), DatabaseModule],
      providers: [PasswordHasher, AdminRepository, AdminAccountsService],
    };
  }
}
