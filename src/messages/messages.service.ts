import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Injectable,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { AttachmentLinks } from '../attachments/attachment-links.js';
import { AttachmentsNotAvailable, AttachmentsRepository } from '../attachments/attachments.repository.js';
import type { AuthUser, Caller } from '../common/caller/caller.js';
import { TokenService } from '../auth/token.service.js';
import { isLockTimeout, isUniqueViolation } from '../common/pg-errors.js';
import { crashPoint } from '../common/test-crash.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { Metrics } from '../metrics/metrics.service.js';
import type { MessageFrame } from '../notifications/frames.js';
import { Notifier } from '../notifications/notifier.js';
import { requireTextMessage } from './message-kind.js';
import { toMessageView, type ChangesPage, type HistoryPage, type MessageRow, type MessageView, type ThreadPage } from './message.view.js';
import { EmptyMessage, MessagesRepository, type ChangedMessage, type HistoryRange, type SentMessage } from './messages.repository.js';
import type { EditMessageDto } from './dto/edit-message.dto.js';
import type { SendMessageDto } from './dto/send-message.dto.js';
import type { SendTimeline } from './send-trace.js';

/** What a frame needs of a message: its ids, seq and change seq. */
type Announced = Pick<ChangedMessage, 'id' | 'conversationId' | 'seq' | 'changeSeq'>;

const ATTACHMENTS_NOT_AVAILABLE = 'attachmentIds must name your own uploads, each attached to no other message';

/**
 * The notify-then-fetch loop: validate, commit, then publish the id (never the body) to every member.
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
    private readonly links: AttachmentLinks,
    private readonly attachments: AttachmentsRepository,
  ) {}

  /**
   * Returns the message and whether it is new (false: an idempotent retry of an earlier send).
   * A retry is recognised by the unique index on (sender, clientMessageId) rather than looked
   * up first, so a first send, by far the common case, costs one statement.
   */
  async send(sender: Caller, dto: SendMessageDto, timeline?: SendTimeline): Promise<{ message: MessageView; created: boolean }> {
    let conversationId = dto.conversationId!;
    if (dto.recipientId) {
      // Checked before anything is created on the sender's behalf.
      await this.tokens.requireCurrent(sender);
      conversationId = (await this.conversations.findOrCreateDirect(sender.id, dto.recipientId)).id;
    }
    let message: SentMessage | undefined;
    try {
      // With attachments, a transaction of its own; the batched path is the text alone.
      message = dto.attachmentIds?.length
        ? await this.messages.insertWithAttachments(conversationId, sender, dto.body, dto.clientMessageId, dto.replyToId, dto.attachmentIds)
        : await this.messages.insert(conversationId, sender, dto.body, dto.clientMessageId, dto.replyToId, timeline);
    } catch (error) {
      if (isLockTimeout(error)) throw new ServiceUnavailableException('The conversation is busy; try again');
      if (error instanceof AttachmentsNotAvailable) throw new BadRequestException([ATTACHMENTS_NOT_AVAILABLE]);
      if (!dto.clientMessageId || !isUniqueViolation(error)) throw error;
    }
    if (!message) {
      // Nothing stored: the sender is no longer active (401), or this is a retry of an earlier
      // send (even one whose sender has since left the conversation), or the sender is not a
      // member of the conversation, or what it answers is not a message of the conversation.
      await this.tokens.requireCurrent(sender);
      const earlier = dto.clientMessageId && (await this.messages.findByClientMessageId(sender.id, dto.clientMessageId));
      if (earlier) return { message: toMessageView(earlier, this.links, sender.id), created: false };
      if (dto.replyToId) await this.requireReplyTarget(sender.id, conversationId, dto.replyToId);
      throw new NotFoundException('Conversation not found');
    }
    const committedAt = performance.now();
    this.metrics.messagesStored.inc();
    crashPoint('send-committed');
    this.announceNew(message, message.memberIds, message.threadRoot, committedAt);
    if (timeline) timeline.framesOut = performance.now();
    return { message: toMessageView(message, this.links, sender.id), created: true };
  }

  /**
   * Why a reply was refused, for a member of the conversation: 400 when it answers something
   * that is not a message of this conversation (or accepts no replies). Returns for a
   * non-member, whom the caller answers 404 as for any conversation it may not see.
   */
  private async requireReplyTarget(callerId: string, conversationId: string, replyToId: string): Promise<void> {
    if (!(await this.conversations.isMember(callerId, conversationId))) return;
    const target = await this.messages.replyTarget(conversationId, replyToId);
    if (target === 'missing') throw new BadRequestException('replyToId must be a message of the same conversation');
    if (target === 'refused') throw new BadRequestException('System messages cannot be replied to');
  }

  async get(caller: Caller, messageId: string): Promise<MessageView> {
    return toMessageView(await this.requireVisible(caller, messageId), this.links, caller.id);
  }

  /** The body, or (with `attachmentIds`) the attachments and the body if given. */
  async edit(caller: Caller, messageId: string, dto: EditMessageDto): Promise<MessageView> {
    const message = await this.requireVisible(caller, messageId);
    requireTextMessage(message.kind, 'edited');
    if (message.senderId !== caller.id) throw new ForbiddenException('Only the sender can edit a message');
    let edited: MessageRow | undefined;
    try {
      edited = dto.attachmentIds
        ? await this.messages.editWithAttachments(messageId, caller.id, dto.body, dto.attachmentIds)
        : await this.messages.editBody(messageId, caller.id, dto.body!);
    } catch (error) {
      if (error instanceof AttachmentsNotAvailable) throw new BadRequestException([ATTACHMENTS_NOT_AVAILABLE]);
      if (error instanceof EmptyMessage) throw new BadRequestException([`body must be 1–4000 characters after trimming when a message has no attachments`]);
      throw error;
    }
    if (!edited) throw new ConflictException('Message has been deleted');
    await this.publish('message.updated', edited);
    return toMessageView(edited, this.links, caller.id);
  }

  /**
   * Removes an attachment (moderation, by an admin): from the live message carrying it, whose
   * members get message.updated, or an upload not yet attached. 404 when there is none (or it
   * was removed already).
   */
  async removeAttachment(attachmentId: string): Promise<void> {
    if (await this.attachments.markRemovedIfUnattached(attachmentId)) return;
    // Attached (perhaps a moment ago), or not there at all.
    const attachment = await this.attachments.findLive(attachmentId);
    if (!attachment?.messageId) throw new NotFoundException('Attachment not found');
    const changed = await this.messages.removeAttachment(attachment.messageId, attachmentId);
    if (changed) await this.publish('message.updated', changed);
  }

  /**
   * The sender deletes its own message; an admin any message, in any conversation, member or
   * not (moderation). The message stays as a tombstone, and its members get message.deleted.
   * Deleting a tombstone again is a no-op. System messages are the record of the conversation's
   * changes: nobody deletes them.
   */
  async delete(caller: AuthUser, messageId: string): Promise<void> {
    if (caller.role === 'admin') {
      const kind = await this.messages.findKind(messageId);
      if (!kind) throw new NotFoundException('Message not found');
      requireTextMessage(kind, 'deleted');
    } else {
      const message = await this.requireVisible(caller, messageId);
      requireTextMessage(message.kind, 'deleted');
      if (message.senderId !== caller.id) throw new ForbiddenException('Only the sender or an admin can delete a message');
    }
    const deleted = await this.messages.tombstone(messageId, caller.id);
    if (deleted) await this.publish('message.deleted', deleted);
  }

  async history(callerId: string, conversationId: string, range: HistoryRange, limit: number): Promise<HistoryPage> {
    await this.conversations.requireMembership(callerId, conversationId);
    const rows = await this.messages.history(conversationId, callerId, range, limit + 1);
    return { items: rows.slice(0, limit).map((row) => toMessageView(row, this.links, callerId)), hasMore: rows.length > limit };
  }

  /** The replies of a thread, oldest first, after seq `after`; 404 for a root the caller may not see. */
  async thread(caller: Caller, rootId: string, after: number, limit: number): Promise<ThreadPage> {
    await this.requireVisible(caller, rootId);
    const rows = await this.messages.thread(rootId, caller.id, after, limit + 1);
    return { items: rows.slice(0, limit).map((row) => toMessageView(row, this.links, caller.id)), hasMore: rows.length > limit };
  }

  async changes(callerId: string, conversationId: string, since: number, limit: number): Promise<ChangesPage> {
    await this.conversations.requireMembership(callerId, conversationId);
    const rows = await this.messages.changesSince(conversationId, callerId, since, limit + 1);
    const items = rows.slice(0, limit).map((row) => toMessageView(row, this.links, callerId));
    const lastChangeSeq = items.length > 0 ? items[items.length - 1].changeSeq : since;
    return { items, hasMore: rows.length > limit, lastChangeSeq };
  }

  /** The message as the caller sees it, or 404 (401 when the caller's token no longer counts). */
  async requireVisible(caller: Caller, messageId: string): Promise<MessageRow> {
    const message = await this.messages.findVisibleTo(caller, messageId);
    if (!message) {
      await this.tokens.requireCurrent(caller);
      throw new NotFoundException('Message not found');
    }
    return message;
  }

  /**
   * Tells the members of a message just stored: message.created, and message.updated for the
   * thread root it answers (its reply count moved). The send's own path, and the outbox relay's
   * for a send whose instance died before it could (FanoutRelay).
   */
  announceNew(message: Announced, memberIds: readonly string[], threadRoot?: ChangedMessage, committedAt = performance.now()): void {
    this.notify('message.created', message, memberIds, committedAt);
    if (threadRoot) this.notify('message.updated', threadRoot, threadRoot.memberIds, committedAt);
  }

  /**
   * Tells a changed message's members (reactions, a pin): message.updated, after the commit.
   * Like every notification, never fails the committed write.
   */
  announceChange(changed: ChangedMessage, committedAt = performance.now()): void {
    this.notify('message.updated', changed, changed.memberIds, committedAt);
  }

  /**
   * The write has committed by now, so a failure here must not fail the request: the client
   * would retry a message that is already stored. Members who miss the frame catch up by seq.
   */
  private async publish(type: MessageFrame['type'], message: Announced): Promise<void> {
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
  private notify(type: MessageFrame['type'], message: Announced, memberIds: readonly string[], committedAt: number): void {
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
