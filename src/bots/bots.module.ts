import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { BotsController } from './bots.controller.js';
import { BotsRepository } from './bots.repository.js';
import { BotsService } from './bots.service.js';

@Module({
  imports: [AuthModule, NotificationsModule, WebhooksModule],
  controllers: [BotsController],
  providers: [BotsService, BotsRepository],
})
export class BotsModule {}
