import { BadRequestException, ConflictException, Injectable, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { TokenService } from '../auth/token.service.js';
import type { AuthUser, Caller } from '../common/caller/caller.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import type { Page } from '../common/page.js';
import { isLockTimeout } from '../common/pg-errors.js';
import { MessagesService } from '../messages/messages.service.js';
import { toUserView, type UserView } from '../users/user.view.js';
import { MAX_EMOJI_PER_MESSAGE, ReactionsRepository, type ToggleResult } from './reactions.repository.js';

/**
 * Reactions: a member adds or removes its own emoji on a message of its conversation. Each is
 * idempotent; a change moves the message's change seq and its members get message.updated,
 * after the commit. Who may react is checked in the toggle's own statement (a member of the
 * message's conversation), so a caller who may not see the message gets the same 404 as for
 * one that does not exist.
 */
@Injectable()
export class ReactionsService {
  constructor(
    private readonly reactions: ReactionsRepository,
    private readonly messages: MessagesService,
    private readonly tokens: TokenService,
  ) {}

  async react(caller: Caller, messageId: string, emoji: string): Promise<void> {
    await this.settle(caller, await this.toggle(caller, messageId, emoji, true));
  }

  async unreact(caller: Caller, messageId: string, emoji: string): Promise<void> {
    await this.settle(caller, await this.toggle(caller, messageId, emoji, false));
  }

  /** Who reacted with `emoji`, in the order they did. */
  async reactors(caller: AuthUser, messageId: string, emoji: string, limit: number, cursor?: string): Promise<Page<UserView>> {
    let after: { reactedAt: string; userId: string } | undefined;
    if (cursor) {
      const [reactedAt, userId] = decodeCursor(cursor, ['timestamp', 'id']);
      after = { reactedAt, userId };
    }
    await this.messages.requireVisible(caller, messageId);
    const rows = await this.reactions.reactors(messageId, emoji, limit + 1, after);
    const items = rows.slice(0, limit);
    const last = rows.length > limit ? items[items.length - 1] : undefined;
    return { items: items.map(toUserView), nextCursor: last ? encodeCursor([last.reactedAtKey, last.id]) : null };
  }

  private async toggle(caller: Caller, messageId: string, emoji: string, add: boolean): Promise<ToggleResult> {
    try {
      return await this.reactions.toggle(messageId, caller, emoji, add);
    } catch (error) {
      if (isLockTimeout(error)) throw new ServiceUnavailableException('The conversation is busy; try again');
      throw error;
    }
  }

  private async settle(caller: Caller, { outcome, changed }: ToggleResult): Promise<void> {
    switch (outcome) {
      case 'unauthorized':
        // 401 as the guard would have said; should the caller have become current since, 404.
        await this.tokens.requireCurrent(caller);
        throw new NotFoundException('Message not found');
      case 'not_found':
        throw new NotFoundException('Message not found');
      case 'deleted':
        throw new ConflictException('Message has been deleted');
      case 'not_reactable':
        throw new BadRequestException('System messages cannot be reacted to');
      case 'too_many':
        throw new ConflictException(`A message carries at most ${MAX_EMOJI_PER_MESSAGE} different emoji`);
      case 'ok':
        if (changed) this.messages.announceChange(changed);
    }
  }
}
