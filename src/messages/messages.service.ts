import { ConflictException, ForbiddenException, Injectable, Logger, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import type { AuthUser, Caller } from '../auth/auth-user.js';
import { TokenService } from '../auth/token.service.js';
import { isLockTimeout, isUniqueViolation } from '../common/pg-errors.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { Metrics } from '../metrics/metrics.service.js';
import type { MessageFrame } from '../notifications/frames.js';
import { Notifier } from '../notifications/notifier.js';
import type { Message } from './message.entity.js';
import { toMessageView, type ChangesPage, type HistoryPage, type MessageView } from './message.view.js';
import { MessagesRepository, type HistoryRange, type SentMessage } from './messages.repository.js';
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
    private readonly tokens: TokenService,
  ) {}

  /**
   * Returns the message and whether it is new (false: an idempotent retry of an earlier send).
   * A retry is recognised by the unique index on (sender, clientMessageId) rather than looked
   * up first, so a first send, by far the common case, costs one statement.
   */
  async send(sender: Caller, dto: SendMessageDto): Promise<{ message: MessageView; created: boolean }> {
    let conversationId = dto.conversationId!;
    if (dto.recipientId) {
      // Checked before anything is created on the sender's behalf.
      await this.tokens.requireCurrent(sender);
      conversationId = (await this.conversations.findOrCreateDirect(sender.id, dto.recipientId)).id;
    }
    let message: SentMessage | undefined;
    try {
      message = await this.messages.insert(conversationId, sender, dto.body, dto.clientMessageId);
    } catch (error) {
      if (isLockTimeout(error)) throw new ServiceUnavailableException('The conversation is busy; try again');
      if (!dto.clientMessageId || !isUniqueViolation(error)) throw error;
    }
    if (!message) {
      // Nothing stored: the sender is no longer active (401), or this is a retry of an earlier
      // send (even one whose sender has since left the conversation), or the sender is not a
      // member of the conversation.
      await this.tokens.requireCurrent(sender);
      const earlier = dto.clientMessageId && (await this.messages.findByClientMessageId(sender.id, dto.clientMessageId));
      if (earlier) return { message: toMessageView(earlier), created: false };
      throw new NotFoundException('Conversation not found');
    }
    this.metrics.messagesStored.inc();
    this.notify('message.created', message, message.memberIds, performance.now());
    return { message: toMessageView(message), created: true };
  }

  async get(caller: Caller, messageId: string): Promise<MessageView> {
    return toMessageView(await this.requireVisible(caller, messageId));
  }

  async edit(caller: Caller, messageId: string, body: string): Promise<MessageView> {
    const message = await this.requireVisible(caller, messageId);
    if (message.senderId !== caller.id) throw new ForbiddenException('Only the sender can edit a message');
    const edited = await this.messages.editBody(messageId, body);
    if (!edited) throw new ConflictException('Message has been deleted');
    await this.publish('message.updated', edited);
    return toMessageView(edited);
  }

  /**
   * The sender deletes its own message; an admin any message, in any conversation, member or
   * not (moderation). The message stays as a tombstone, and its members get message.deleted.
   * Deleting a tombstone again is a no-op.
   */
  async delete(caller: AuthUser, messageId: string): Promise<void> {
    if (caller.role === 'admin') {
      if (!(await this.messages.exists(messageId))) throw new NotFoundException('Message not found');
    } else {
      const message = await this.requireVisible(caller, messageId);
      if (message.senderId !== caller.id) throw new ForbiddenException('Only the sender or an admin can delete a message');
    }
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

  private async requireVisible(caller: Caller, messageId: string): Promise<Message> {
    const message = await this.messages.findVisibleTo(caller, messageId);
    if (!message) {
      await this.tokens.requireCurrent(caller);
      throw new NotFoundException('Message not found');
    }
    return message;
  }

  /**
   * The write has committed by now, so a failure here must not fail the request: the client
   * would retry a message that is already stored. Members who miss the frame catch up by seq.
   */
  private async publish(type: MessageFrame['type'], message: Message): Promise<void> {
    // Called as soon as the write has returned: from here to the hand-off is the latency.
    const committedAt = performance.now();
    let memberIds: string[];
    try {
      memberIds = await this.conversations.memberIds(message.conversationId);
    } catch (error) {
      this.logger.error(`Could not notify ${type} ${message.id}: ${(error as Error).message}`);
      return;
    }
    this.notify(type, message, memberIds, committedAt);
  }

  /** Hands the frame to the notifier; like `publish`, never fails the committed write. */
  private notify(type: MessageFrame['type'], message: Message, memberIds: readonly string[], committedAt: number): void {
    try {
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
