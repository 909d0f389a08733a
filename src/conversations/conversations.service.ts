import { BadRequestException, ForbiddenException, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { AttachmentLinks } from '../attachments/attachment-links.js';
import type { AuthUser } from '../common/caller/caller.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import type { Page } from '../common/page.js';
import type { ServerFrame } from '../notifications/frames.js';
import { Notifier } from '../notifications/notifier.js';
import { UsersService } from '../users/users.service.js';
import { ConversationsRepository, type ConversationChange, type Membership, type ReadMarkerMove } from './conversations.repository.js';
import { toConversationView, toReceiptView, type ConversationView, type ReceiptsView } from './conversation.view.js';
import type { CreateConversationDto } from './dto/create-conversation.dto.js';

/**
 * Membership rules. A caller who is not a member of a conversation gets 404 for it, exactly as
 * if it did not exist, so ids cannot be probed. Notifications go out after the write commits.
 */
@Injectable()
export class ConversationsService {
  private readonly logger = new Logger(ConversationsService.name);

  constructor(
    private readonly conversations: ConversationsRepository,
    private readonly users: UsersService,
    private readonly notifier: Notifier,
    private readonly links: AttachmentLinks,
  ) {}

  async create(callerId: string, dto: CreateConversationDto): Promise<{ conversation: ConversationView; created: boolean }> {
    if (dto.type === 'direct') return this.openDirect(callerId, dto.userId!);
    const memberIds = await this.requireActiveUsers([callerId, ...dto.memberIds!]);
    const id = await this.conversations.createGroup(callerId, dto.title!, memberIds);
    this.notifier.publish(memberIds, { type: 'conversation.updated', conversationId: id });
    return { conversation: await this.get(callerId, id), created: true };
  }

  /** The direct conversation with `otherUserId`, created (201) the first time. */
  async openDirect(callerId: string, otherUserId: string): Promise<{ conversation: ConversationView; created: boolean }> {
    const id = await this.findOrCreateDirect(callerId, otherUserId);
    return { conversation: await this.get(callerId, id.id), created: id.created };
  }

  async findOrCreateDirect(callerId: string, otherUserId: string): Promise<{ id: string; created: boolean }> {
    if (otherUserId === callerId) throw new BadRequestException('A direct conversation needs another user');
    const active = await this.users.findActiveIds([otherUserId]);
    if (!active.has(otherUserId)) throw new NotFoundException('User not found');
    const pair: [string, string] = BigInt(callerId) < BigInt(otherUserId) ? [callerId, otherUserId] : [otherUserId, callerId];
    const result = await this.conversations.findOrCreateDirect(pair.join(':'), pair);
    if (result.created) this.notifier.publish(pair, { type: 'conversation.updated', conversationId: result.id });
    return result;
  }

  async get(callerId: string, conversationId: string): Promise<ConversationView> {
    const row = await this.conversations.findForMember(callerId, conversationId);
    if (!row) throw new NotFoundException('Conversation not found');
    return toConversationView(row, this.links, callerId);
  }

  async list(callerId: string, limit: number, cursor?: string): Promise<Page<ConversationView>> {
    let after: { updatedAt: string; id: string } | undefined;
    if (cursor) {
      const [updatedAt, id] = decodeCursor(cursor, ['timestamp', 'id']);
      after = { updatedAt, id };
    }
    const rows = await this.conversations.listForMember(callerId, limit + 1, after);
    const items = rows.slice(0, limit).map((row) => toConversationView(row, this.links, callerId));
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    const nextCursor = last ? encodeCursor([last.updatedAtKey, last.id]) : null;
    return { items, nextCursor };
  }

  async addMembers(callerId: string, conversationId: string, userIds: string[]): Promise<ConversationView> {
    const membership = await this.requireMembership(callerId, conversationId);
    if (membership.type !== 'group') throw new BadRequestException('Members can only be added to a group');
    if (membership.ownerId !== callerId) throw new ForbiddenException('Only the owner can add members');
    const users = await this.requireActiveUsers(userIds);
    this.announce(conversationId, await this.conversations.addMembers(conversationId, callerId, users));
    return this.get(callerId, conversationId);
  }

  /** The owner removes anyone; any member removes itself (leaves). */
  async removeMember(callerId: string, conversationId: string, userId: string): Promise<void> {
    const membership = await this.requireMembership(callerId, conversationId);
    if (membership.type !== 'group') throw new BadRequestException('Members of a direct conversation cannot change');
    if (userId !== callerId && membership.ownerId !== callerId) {
      throw new ForbiddenException('Only the owner can remove other members');
    }
    const change = await this.conversations.removeMember(conversationId, callerId, userId);
    if (!change) throw new NotFoundException('Member not found');
    this.announce(conversationId, change, [userId]);
  }

  /** The owner gives its group a new title. */
  async rename(callerId: string, conversationId: string, title: string): Promise<ConversationView> {
    const membership = await this.requireMembership(callerId, conversationId);
    if (membership.type !== 'group') throw new BadRequestException('Only a group has a title');
    if (membership.ownerId !== callerId) throw new ForbiddenException('Only the owner can rename the group');
    const change = await this.conversations.rename(conversationId, callerId, title);
    if (change === 'not-owner') throw new ForbiddenException('Only the owner can rename the group');
    this.announce(conversationId, change);
    return this.get(callerId, conversationId);
  }

  /** The caller's own settings of a conversation (muted). */
  async updateSettings(callerId: string, conversationId: string, muted: boolean): Promise<ConversationView> {
    if (!(await this.conversations.setMuted(callerId, conversationId, muted))) throw new NotFoundException('Conversation not found');
    return this.get(callerId, conversationId);
  }

  async markRead(callerId: string, conversationId: string, seq: number): Promise<void> {
    const move = await this.conversations.markRead(callerId, conversationId, seq);
    if (!move) throw new NotFoundException('Conversation not found');
    this.publishRead(callerId, conversationId, move);
  }

  /** Every member's read marker; those who do not share theirs show nulls, except to admins. */
  async receipts(caller: AuthUser, conversationId: string): Promise<ReceiptsView> {
    const rows = await this.conversations.receipts(caller.id, conversationId);
    if (rows.length === 0) throw new NotFoundException('Conversation not found');
    const viewer = { id: caller.id, admin: caller.role === 'admin' };
    return { items: rows.map((row) => toReceiptView(row, viewer)) };
  }

  async requireMembership(callerId: string, conversationId: string): Promise<Membership> {
    const membership = await this.conversations.findMembership(callerId, conversationId);
    if (!membership) throw new NotFoundException('Conversation not found');
    return membership;
  }

  async isMember(callerId: string, conversationId: string): Promise<boolean> {
    return (await this.conversations.findMembership(callerId, conversationId)) !== undefined;
  }

  memberIds(conversationId: string): Promise<string[]> {
    return this.conversations.memberIds(conversationId);
  }

  private async requireActiveUsers(ids: string[]): Promise<string[]> {
    const unique = [...new Set(ids)];
    const active = await this.users.findActiveIds(unique);
    const unknown = unique.filter((id) => !active.has(id));
    if (unknown.length > 0) throw new BadRequestException(`Unknown or inactive users: ${unknown.join(', ')}`);
    return unique;
  }

  /**
   * The reader's own sockets always hear where its marker is (its other tabs update their
   * unread counts). When it moved, the other members hear of it too, if the reader shares read
   * receipts (admins hear of it whatever the setting). One frame shape for both: `userId` and
   * `seq` say whose marker moved and to where; `lastReadSeq` is always the receiving user's own
   * marker, so a client that knows only the older frame (which had just `lastReadSeq`, and
   * went only to the reader) keeps its own unread count right.
   */
  private publishRead(readerId: string, conversationId: string, move: ReadMarkerMove): void {
    const frame = (lastReadSeq: number): ServerFrame => ({
      type: 'conversation.read',
      conversationId,
      userId: readerId,
      seq: move.lastReadSeq,
      lastReadSeq,
    });
    this.publishSafely([readerId], frame(move.lastReadSeq));
    if (!move.moved) return;
    const byMarker = new Map<number, string[]>();
    for (const other of move.others) {
      if (!move.sharesReceipts && !other.admin) continue;
      byMarker.set(other.lastReadSeq, [...(byMarker.get(other.lastReadSeq) ?? []), other.userId]);
    }
    for (const [lastReadSeq, userIds] of byMarker) this.publishSafely(userIds, frame(lastReadSeq));
  }

  /**
   * A membership or title change has committed: the members (and `alsoTell`, a member just
   * removed) hear that the conversation changed, and the members get the system message that
   * records it like any new message. Nothing when nothing changed.
   */
  private announce(conversationId: string, change: ConversationChange, alsoTell: string[] = []): void {
    const message = change.message;
    if (!message) return;
    this.publishSafely([...change.memberIds, ...alsoTell], { type: 'conversation.updated', conversationId });
    this.publishSafely(change.memberIds, {
      type: 'message.created',
      id: message.id,
      conversationId,
      seq: Number(message.seq),
      changeSeq: Number(message.changeSeq),
    });
  }

  /** The write has committed: a failure to hand a frame over must not fail the request. */
  private publishSafely(userIds: readonly string[], frame: ServerFrame): void {
    try {
      this.notifier.publish(userIds, frame);
    } catch (error) {
      this.logger.error(`Could not notify ${frame.type}: ${(error as Error).message}`);
    }
  }
}
