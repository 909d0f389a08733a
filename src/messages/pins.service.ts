import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { AttachmentLinks } from '../attachments/attachment-links.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { toMessageView, type PinsPage } from './message.view.js';
import { MAX_PINS, MessagesRepository, type PinOutcome } from './messages.repository.js';
import { MessagesService } from './messages.service.js';

/**
 * Pinned messages: any member pins or unpins a message of its conversation, at most
 * MAX_PINS at a time. A pin is a change of the message (its change seq moves, members get
 * message.updated); pinning a pinned message or unpinning one that is not changes nothing.
 */
@Injectable()
export class PinsService {
  constructor(
    private readonly messages: MessagesRepository,
    private readonly messagesService: MessagesService,
    private readonly conversations: ConversationsService,
    private readonly links: AttachmentLinks,
  ) {}

  async pin(callerId: string, conversationId: string, messageId: string): Promise<void> {
    await this.conversations.requireMembership(callerId, conversationId);
    this.settle(await this.messages.setPinned(conversationId, messageId, callerId));
  }

  async unpin(callerId: string, conversationId: string, messageId: string): Promise<void> {
    await this.conversations.requireMembership(callerId, conversationId);
    this.settle(await this.messages.setPinned(conversationId, messageId, null));
  }

  async list(callerId: string, conversationId: string): Promise<PinsPage> {
    await this.conversations.requireMembership(callerId, conversationId);
    return { items: (await this.messages.pinned(conversationId, callerId)).map((row) => toMessageView(row, this.links, callerId)) };
  }

  private settle(outcome: PinOutcome): void {
    if (outcome === 'not-found') throw new NotFoundException('Message not found');
    if (outcome === 'deleted') throw new ConflictException('Message has been deleted');
    if (outcome === 'too-many') throw new ConflictException(`A conversation holds at most ${MAX_PINS} pinned messages`);
    if (outcome !== 'unchanged') this.messagesService.announceChange(outcome);
  }
}
