import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { PresenceModule } from '../presence/presence.module.js';
import { PushDeliverer } from './push-deliverer.js';
import { PushController } from './push.controller.js';
import { PushRepository } from './push.repository.js';
import { PushSubscribers } from './push-subscribers.js';
import { PushService } from './push.service.js';
import { loadVapidKeys, VAPID_KEYS } from './vapid-keys.js';

/** Web Push: browsers' subscriptions, members' mutes, and the job that pushes. */
@Module({
  imports: [PresenceModule],
  controllers: [PushController],
  providers: [
    { provide: VAPID_KEYS, inject: [APP_CONFIG], useFactory: (config: AppConfig) => loadVapidKeys(config) },
    PushRepository,
    PushService,
    PushSubscribers,
    PushDeliverer,
  ],
  exports: [PushService],
})
export class PushModule {}
