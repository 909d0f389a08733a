import { Inject, Module, OnApplicationBootstrap } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MessagesModule } from '../messages/messages.module.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { AttachmentsModule } from '../attachments/attachments.module.js';
import { AdminAccountsService } from './admin-accounts.service.js';
import { AdminAttachmentsController } from './admin-attachments.controller.js';
import { AdminAttachmentsService } from './admin-attachments.service.js';
import { AdminMessagesController } from './admin-messages.controller.js';
import { AdminMessagesService } from './admin-messages.service.js';
import { AdminStatsController } from './admin-stats.controller.js';
import { AdminStatsService } from './admin-stats.service.js';
import { AdminUsersController } from './admin-users.controller.js';
import { AdminUsersService } from './admin-users.service.js';
import { UsersModule } from '../users/users.module.js';
import { AdminRepository } from './admin.repository.js';

/** `/api/v1/admin/*` (role admin), and the first admin from ADMIN_USERNAME / ADMIN_PASSWORD. */
@Module({
  imports: [AuthModule, MessagesModule, AttachmentsModule, NotificationsModule, UsersModule],
  controllers: [AdminUsersController, AdminMessagesController, AdminStatsController, AdminAttachmentsController],
  providers: [AdminRepository, AdminUsersService, AdminMessagesService, AdminStatsService, AdminAccountsService, AdminAttachmentsService],
})
export class AdminModule implements OnApplicationBootstrap {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly accounts: AdminAccountsService,
  ) {}

  /** Before the server listens: the admin exists by the time anyone can log in. */
  async onApplicationBootstrap(): Promise<void> {
    const { adminUsername, adminPassword } = this.config;
    if (adminUsername && adminPassword) await this.accounts.ensureAdmin(adminUsername, adminPassword);
  }
}
