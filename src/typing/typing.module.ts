import { Module } from '@nestjs/common';
import { usesRedis } from '../redis/redis-clients.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { RedisTypingStore } from './redis-typing-store.js';
import { TypingController } from './typing.controller.js';
import { TypingService } from './typing.service.js';
import { LocalTypingStore, TypingStore } from './typing-store.js';

@Module({
  imports: [ConversationsModule, NotificationsModule],
  controllers: [TypingController],
  providers: [
    TypingService,
    {
      // One instance keeps the limits in memory; several share them in Redis
      // (REDIS_URL or REDIS_CLUSTER_NODES).
      provide: TypingStore,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => (usesRedis(config) ? new RedisTypingStore(config) : new LocalTypingStore()),
    },
  ],
})
export class TypingModule {}
