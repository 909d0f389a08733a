import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { UsersModule } from '../users/users.module.js';
import { ConnectionRegistry } from './connection-registry.js';
import { LocalNotifier } from './local-notifier.js';
import { NotificationsGateway } from './notifications.gateway.js';
import { Notifier } from './notifier.js';

@Module({
  imports: [AuthModule, UsersModule],
  providers: [ConnectionRegistry, NotificationsGateway, { provide: Notifier, useClass: LocalNotifier }],
  exports: [Notifier, ConnectionRegistry],
})
export class NotificationsModule {}
