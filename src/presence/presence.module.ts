import { Module } from '@nestjs/common';
import { usesRedis } from '../redis/redis-clients.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { Notifier } from '../notifications/notifier.js';
import { UsersModule } from '../users/users.module.js';
import { PresenceController } from './presence.controller.js';
import { PresenceRepository } from './presence.repository.js';
import { PresenceService } from './presence.service.js';
import { LocalPresenceStore, PresenceStore } from './presence-store.js';
import { RedisPresenceStore } from './redis-presence-store.js';

@Module({
  imports: [NotificationsModule, UsersModule],
  controllers: [PresenceController],
  providers: [
    PresenceRepository,
    PresenceService,
    {
      // One instance counts sockets in process; several count them together in Redis
      // (REDIS_URL or REDIS_CLUSTER_NODES).
      provide: PresenceStore,
      inject: [APP_CONFIG, Notifier],
      useFactory: (config: AppConfig, notifier: Notifier) =>
        usesRedis(config)
          ? new RedisPresenceStore(config, () => notifier.isHealthy())
          : new LocalPresenceStore(config.presenceOfflineGraceMs),
    },
  ],
  // Web Push asks it whether a user has a socket open anywhere.
  exports: [PresenceStore],
})
export class PresenceModule {}
