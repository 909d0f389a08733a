import type { ParleyClient } from '@parley/client';
import { Signal } from './signal.js';

/** How long someone counts as typing after their last `typing` event (the contract's 6 s). */
export const TYPING_SHOWN_MS = 6_000;
/** The server passes on one `typing` per user and conversation every 2 s: sending more is waste. */
export const TYPING_SENT_EVERY_MS = 2_000;

/**
 * Who is typing where, both ways: the other members' `typing` events (each shown for 6 s after
 * the last, ended at once by that member's message), and the user's own typing, told to the
 * others at most once per 2 s per conversation.
 */
export class Typing {
  /** Emits the id of a conversation whose typists changed. */
  readonly changed = new Signal<string>();
  /** Conversation id → user id → the timer that ends their typing. */
  private readonly typists = new Map<string, Map<string, number>>();
  private readonly lastSent = new Map<string, number>();
  private readonly unsubscribe: Array<() => void>;

  constructor(
    private readonly client: ParleyClient,
    private readonly myId: string,
  ) {
    this.unsubscribe = [
      client.on('typing', ({ conversationId, userId }) => this.started(conversationId, userId)),
      client.on('message', (message) => this.stopped(message.conversationId, message.senderId)),
    ];
  }

  /** The users typing in a conversation, in the order they started. */
  who(conversationId: string): string[] {
    return [...(this.typists.get(conversationId)?.keys() ?? [])];
  }

  /** The composer's text changed: tells the others, unless it is empty or was told just now. */
  typed(conversationId: string, text: string): void {
    if (!text.trim()) return;
    const now = Date.now();
    if (now - (this.lastSent.get(conversationId) ?? 0) < TYPING_SENT_EVERY_MS) return;
    this.lastSent.set(conversationId, now);
    this.client.typing(conversationId);
  }

  destroy(): void {
    for (const off of this.unsubscribe) off();
    for (const users of this.typists.values()) for (const timer of users.values()) window.clearTimeout(timer);
    this.typists.clear();
  }

  private started(conversationId: string, userId: string): void {
    if (userId === this.myId) return;
    let users = this.typists.get(conversationId);
    if (!users) this.typists.set(conversationId, (users = new Map()));
    const wasTyping = users.has(userId);
    window.clearTimeout(users.get(userId));
    users.set(userId, window.setTimeout(() => this.stopped(conversationId, userId), TYPING_SHOWN_MS));
    if (!wasTyping) this.changed.emit(conversationId);
  }

  private stopped(conversationId: string, userId: string): void {
    const users = this.typists.get(conversationId);
    if (!users?.has(userId)) return;
    window.clearTimeout(users.get(userId));
    users.delete(userId);
    if (users.size === 0) this.typists.delete(conversationId);
    this.changed.emit(conversationId);
  }
}
