import { Injectable, Logger, NotFoundException, type OnModuleInit } from '@nestjs/common';
import { isId } from '../common/ids.js';
import { OutageLog } from '../common/outage-log.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { Metrics } from '../metrics/metrics.service.js';
import { ClientFrames } from '../notifications/client-frames.js';
import { Notifier } from '../notifications/notifier.js';
import { MembershipCache } from './membership-cache.js';
import { TypingStore } from './typing-store.js';

/**
 * Typing signals: a `typing` frame (or `POST …/typing`) is passed on to the conversation's
 * other members through the Notifier, never stored, at most once per user and conversation
 * every 2 s, and only from a member. Membership is taken from a cache checked against the
 * conversation's membership version on every signal, so a keystroke costs no database read and
 * a member removed on any instance neither sends nor receives typing from the next signal on.
 */
@Injectable()
export class TypingService implements OnModuleInit {
  private readonly logger = new Logger(TypingService.name);
  private readonly members: MembershipCache;
  /** A database outage fails every signal's member read: said once, not once a keystroke. */
  private readonly readOutage = new OutageLog(this.logger, {
    down: 'Typing signals dropped: the members of a conversation could not be read',
    stillDown: 'Typing signals still dropped',
    back: 'Typing signals passed on again',
  });

  constructor(
    private readonly store: TypingStore,
    private readonly conversations: ConversationsService,
    private readonly notifier: Notifier,
    private readonly clientFrames: ClientFrames,
    private readonly metrics: Metrics,
  ) {
    this.members = new MembershipCache((conversationId) => this.conversations.memberIds(conversationId));
  }

  onModuleInit(): void {
    this.clientFrames.register('typing', (userId, frame) => void this.fromSocket(userId, frame.conversationId));
    this.notifier.onConversationUpdated((conversationId) => {
      this.members.evict(conversationId);
      this.store.membershipChanged(conversationId);
    });
    this.store.onReset = () => this.members.clear();
  }

  /** A `typing` frame: anything wrong with it (no such conversation, not a member) is ignored. */
  async fromSocket(userId: string, conversationId: unknown): Promise<void> {
    if (!isId(conversationId)) return;
    try {
      await this.pass(userId, conversationId, false);
      this.readOutage.succeeded();
    } catch (error) {
      this.readOutage.failed((error as Error).message);
    }
  }

  /** `POST /api/v1/conversations/:id/typing`: 404 for a conversation the caller is not in. */
  async fromRequest(userId: string, conversationId: string): Promise<void> {
    if (!(await this.pass(userId, conversationId, true))) throw new NotFoundException('Conversation not found');
  }

  /** Passes the signal on if it is due; whether the user is a member (undefined: not looked at). */
  private async pass(userId: string, conversationId: string, needMembership: boolean): Promise<boolean | undefined> {
    const admission = await this.store.admit(userId, conversationId, needMembership);
    if (!admission.admitted && !needMembership) {
      this.metrics.typingFrames.inc({ outcome: 'limited' });
      return undefined;
    }
    const members = await this.members.members(conversationId, admission.membershipVersion);
    if (!members.has(userId)) {
      this.metrics.typingFrames.inc({ outcome: 'not_member' });
      return false;
    }
    if (!admission.admitted) {
      this.metrics.typingFrames.inc({ outcome: 'limited' });
      return true;
    }
    const others: string[] = [];
    for (const member of members) if (member !== userId) others.push(member);
    this.notifier.publish(others, { type: 'typing', conversationId, userId });
    this.metrics.typingFrames.inc({ outcome: 'passed' });
    return true;
  }
}
