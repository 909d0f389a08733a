import { BadRequestException, ForbiddenException, Injectable, NotFoundException } from '@nestjs/common';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import type { Page } from '../common/page.js';
import { Notifier } from '../notifications/notifier.js';
import { UsersService } from '../users/users.service.js';
import { ConversationsRepository, type Membership } from './conversations.repository.js';
import { toConversationView, type ConversationView } from './conversation.view.js';
import type { CreateConversationDto } from './dto/create-conversation.dto.js';

/**
 * Membership rules. A caller who is not a member of a conversation gets 404 for it, exactly as
 * if it did not exist, so ids cannot be probed. Notifications go out after the write commits.
 */
@Injectable()
export class ConversationsService {
  constructor(
    private readonly conversations: ConversationsRepository,
    private readonly users: UsersService,
    private readonly notifier: Notifier,
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
    return toConversationView(row);
  }

  async list(callerId: string, limit: number, cursor?: string): Promise<Page<ConversationView>> {
    let after: { updatedAt: string; id: string } | undefined;
    if (cursor) {
      const [updatedAt, id] = decodeCursor(cursor, ['timestamp', 'id']);
      after = { updatedAt, id };
    }
    const rows = await this.conversations.listForMember(callerId, limit + 1, after);
    const items = rows.slice(0, limit).map(toConversationView);
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    const nextCursor = last ? encodeCursor([last.updatedAtKey, last.id]) : null;
    return { items, nextCursor };
  }

  async addMembers(callerId: string, conversationId: string, userIds: string[]): Promise<ConversationView> {
    const membership = await this.requireMembership(callerId, conversationId);
    if (membership.type !== 'group') throw new BadRequestException('Members can only be added to a group');
    if (membership.ownerId !== callerId) throw new ForbiddenException('Only the owner can add members');
    const users = await this.requireActiveUsers(userIds);
    if ((await this.conversations.addMembers(conversationId, users)) > 0) {
      const memberIds = await this.conversations.memberIds(conversationId);
      this.notifier.publish(memberIds, { type: 'conversation.updated', conversationId });
    }
    return this.get(callerId, conversationId);
  }

  /** The owner removes anyone; any member removes itself (leaves). */
  async removeMember(callerId: string, conversationId: string, userId: string): Promise<void> {
    const membership = await this.requireMembership(callerId, conversationId);
    if (membership.type !== 'group') throw new BadRequestException('Members of a direct conversation cannot change');
    if (userId !== callerId && membership.ownerId !== callerId) {
      throw new ForbiddenException('Only the owner can remove other members');
    }
    const removed = await this.conversations.removeMember(conversationId, userId);
    if (!removed) throw new NotFoundException('Member not found');
    const remaining = await this.conversations.memberIds(conversationId);
    this.notifier.publish([...remaining, userId], { type: 'conversation.updated', conversationId });
  }

  async markRead(callerId: string, conversationId: string, seq: number): Promise<void> {
    const lastReadSeq = await this.conversations.markRead(callerId, conversationId, seq);
    if (lastReadSeq === undefined) throw new NotFoundException('Conversation not found');
    // The caller's other tabs and devices update their unread counts.
    this.notifier.publish([callerId], { type: 'conversation.read', conversationId, lastReadSeq });
  }

  async requireMembership(callerId: string, conversationId: string): Promise<Membership> {
    const membership = await this.conversations.findMembership(callerId, conversationId);
    if (!membership) throw new NotFoundException('Conversation not found');
    return membership;
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
}
