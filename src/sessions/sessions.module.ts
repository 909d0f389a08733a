import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsService } from './sessions.service.js';

/**
 * Refresh, logout and the sessions list: apart from AuthModule because ending a session closes
 * its sockets (the Notifier), and NotificationsModule already depends on AuthModule.
 */
@Module({
  imports: [AuthModule, NotificationsModule],
  controllers: [SessionsController],
  providers: [SessionsService],
})
export class SessionsModule {}
