import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { AdminBotsController } from './admin-bots.controller.js';
import { WebhookBots } from './webhook-bots.js';
import { WebhookDeliverer } from './webhook-deliverer.js';
import { WebhookFrames } from './webhook-frames.js';
import { WebhooksRepository } from './webhooks.repository.js';
import { WebhooksService } from './webhooks.service.js';

/** Bots' webhooks: setting them, queueing their frames, and the job that delivers them. */
@Module({
  imports: [NotificationsModule],
  controllers: [AdminBotsController],
  providers: [WebhooksRepository, WebhooksService, WebhookBots, WebhookDeliverer, WebhookFrames],
  exports: [WebhooksService],
})
export class WebhooksModule {}
