import { DynamicModule, Module } from '@nestjs/common';
import { AdminModule } from './admin/admin.module.js';
import { AttachmentsModule } from './attachments/attachments.module.js';
import { AuthModule } from './auth/auth.module.js';
import { BotsModule } from './bots/bots.module.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { ConversationsModule } from './conversations/conversations.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { JobsModule } from './jobs/jobs.module.js';
import { loggingModule } from './logging/logging.js';
import { MessagesModule } from './messages/messages.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { NotificationsModule } from './notifications/notifications.module.js';
import { PresenceModule } from './presence/presence.module.js';
import { PushModule } from './push/push.module.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { ReactionsModule } from './reactions/reactions.module.js';
import { SearchModule } from './search/search.module.js';
import { SessionsModule } from './sessions/sessions.module.js';
import { TypingModule } from './typing/typing.module.js';
import { UsersModule } from './users/users.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        loggingModule(config),
        DatabaseModule,
        JobsModule,
        MetricsModule,
        AuthModule,
        RateLimitModule,
        UsersModule,
        ConversationsModule,
        MessagesModule,
        AttachmentsModule,
        ReactionsModule,
        SearchModule,
        NotificationsModule,
        TypingModule,
        PresenceModule,
        SessionsModule,
        BotsModule,
        PushModule,
        AdminModule,
        HealthModule,
      ],
    };
  }
}
