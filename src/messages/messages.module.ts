import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AttachmentsModule } from '../attachments/attachments.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { ConversationMessagesController } from './conversation-messages.controller.js';
import { ConversationPinsController } from './conversation-pins.controller.js';
import { FanoutOutboxRepository } from './fanout-outbox.repository.js';
import { FanoutRelay } from './fanout-relay.js';
import { Message } from './message.entity.js';
import { MessagesController } from './messages.controller.js';
import { MessagesRepository } from './messages.repository.js';
import { MessagesService } from './messages.service.js';
import { PinsService } from './pins.service.js';
import { SendTrace } from './send-trace.js';

@Module({
  imports: [TypeOrmModule.forFeature([Message]), AuthModule, AttachmentsModule, ConversationsModule, NotificationsModule],
  controllers: [MessagesController, ConversationMessagesController, ConversationPinsController],
  providers: [MessagesRepository, MessagesService, PinsService, FanoutOutboxRepository, FanoutRelay, SendTrace],
  exports: [MessagesService, SendTrace],
})
export class MessagesModule {}
