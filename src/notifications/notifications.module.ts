import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { usesRedis } from '../redis/redis-clients.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { UsersModule } from '../users/users.module.js';
import { ClientFrames } from './client-frames.js';
import { ConnectionRegistry } from './connection-registry.js';
import { LocalNotifier } from './local-notifier.js';
import { NotificationsGateway } from './notifications.gateway.js';
import { Notifier } from './notifier.js';
import { RedisNotifier } from './redis-notifier.js';

@Module({
  imports: [AuthModule, UsersModule],
  providers: [
    ClientFrames,
    ConnectionRegistry,
    NotificationsGateway,
    {
      // One instance fans out in-process; several share Redis (REDIS_URL) or a Redis Cluster
      // (REDIS_CLUSTER_NODES).
      provide: Notifier,
      inject: [APP_CONFIG, ConnectionRegistry],
      useFactory: (config: AppConfig, connections: ConnectionRegistry) =>
        usesRedis(config) ? new RedisNotifier(config, connections) : new LocalNotifier(connections),
    },
  ],
  exports: [Notifier, ConnectionRegistry, ClientFrames],
})
export class NotificationsModule {}
