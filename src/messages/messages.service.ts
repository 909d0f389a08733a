import { ConflictException, ForbiddenException, Injectable, Logger, NotFoundException } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.js';
import { isUniqueViolation } from '../common/pg-errors.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { Metrics } from '../metrics/metrics.service.js';
import type { MessageFrame } from '../notifications/frames.js';
import { Notifier } from '../notifications/notifier.js';
import type { Message } from './message.entity.js';
import { toMessageView, type ChangesPage, type HistoryPage, type MessageView } from './message.view.js';
import { MessagesRepository, type HistoryRange } from './messages.repository.js';
import type { SendMessageDto } from './dto/send-message.dto.js';


/**
 * The narrowfail loop: validate, commit, then publish the id (never the body) to every member.
 * Nothing is published unless its write has committed.
 */
@Injectable()
export class MessagesService {
  private readonly logger = new Logger(MessagesService.name);

  constructor(
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsService,
    private readonly notifier: Notifier,
    private readonly metrics: Metrics,
  ) {}

  /** Returns the message and whether it is new (false: an idempotent retry of an earlier send). */
  async send(senderId: string, dto: SendMessageDto): Promise<{ message: MessageView; created: boolean }> {
    if (dto.clientMessageId) {
      const earlier = await this.messages.findByClientMessageId(senderId, dto.clientMessageId);
      if (earlier) return { message: toMessageView(earlier), created: false };
    }
    const conversationId = dto.recipientId
      ? (await this.conversations.findOrCreateDirect(senderId, dto.recipientId)).id
      : dto.conversationId!;
    let message: Message | undefined;
    try {
      message = await this.messages.insert(conversationId, senderId, dto.body, dto.clientMessageId);
    } catch (error) {
      // The same retry racing itself: the other attempt stored it; answer with that one.
      if (!dto.clientMessageId || !isUniqueViolation(error)) throw error;
      const earlier = await this.messages.findByClientMessageId(senderId, dto.clientMessageId);
      if (!earlier) throw error;
      return { message: toMessageView(earlier), created: false };
    }
    if (!message) throw new NotFoundException('Conversation not found');
    this.metrics.messagesStored.inc();
    await this.publish('message.created', message);
    return { message: toMessageView(message), created: true };
  }

  async get(callerId: string, messageId: string): Promise<MessageView> {
    return toMessageView(await this.requireVisible(callerId, messageId));
  }

  async edit(callerId: string, messageId: string, body: string): Promise<MessageView> {
    const message = await this.requireVisible(callerId, messageId);
    if (message.senderId !== callerId) throw new ForbiddenException('Only the sender can edit a message');
    const edited = await this.messages.editBody(messageId, body);
    if (!edited) throw new ConflictException('Message has been deleted');
    await this.publish('message.updated', edited);
    return toMessageView(edited);
  }

  /** Sender or admin. Deleting a tombstone again is a no-op. */
  async delete(caller: AuthUser, messageId: string): Promise<void> {
    const message = await this.requireVisible(caller.id, messageId);
    if (message.senderId !== caller.id && caller.role !== 'admin') {
      throw new ForbiddenException('Only the sender or an admin can delete a message');
    }
    await this.remove(messageId);
  }

  /** Tombstones a message and tells its members; shared with moderation. */
  async remove(messageId: string): Promise<void> {
    const deleted = await this.messages.tombstone(messageId);
    if (deleted) await this.publish('message.deleted', deleted);
  }

  async history(callerId: string, conversationId: string, range: HistoryRange, limit: number): Promise<HistoryPage> {
    await this.conversations.requireMembership(callerId, conversationId);
    const rows = await this.messages.history(conversationId, range, limit + 1);
    return { items: rows.slice(0, limit).map(toMessageView), hasMore: rows.length > limit };
  }

  async changes(callerId: string, conversationId: string, since: number, limit: number): Promise<ChangesPage> {
    await this.conversations.requireMembership(callerId, conversationId);
    const rows = await this.messages.changesSince(conversationId, since, limit + 1);
    const items = rows.slice(0, limit).map(toMessageView);
    const lastChangeSeq = items.length > 0 ? items[items.length - 1].changeSeq : since;
    return { items, hasMore: rows.length > limit, lastChangeSeq };
  }

  private async requireVisible(callerId: string, messageId: string): Promise<Message> {
    const message = await this.messages.findVisibleTo(callerId, messageId);
    if (!message) throw new NotFoundException('Message not found');
    return message;
  }

  /**
   * The write has committed by now, so a failure here must not fail the request: the client
   * would retry a message that is already stored. Members who miss the frame catch up by seq.
   */
  private async publish(type: MessageFrame['type'], message: Message): Promise<void> {
    // Called as soon as the write has returned: from here to the hand-off is the latency.
    const committedAt = performance.now();
    try {
      const memberIds = await this.conversations.memberIds(message.conversationId);
      this.notifier.publish(memberIds, {
        type,
        id: message.id,
        conversationId: message.conversationId,
        seq: Number(message.seq),
        changeSeq: Number(message.changeSeq),
      });
      this.metrics.notificationLatency.observe({ type }, (performance.now() - committedAt) / 1000);
    } catch (error) {
      this.logger.error(`Could not notify ${type} ${message.id}: ${(error as Error).message}`);
    }
  }
}
