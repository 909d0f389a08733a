import type { Conversation, ParleyApi } from '@parley/client';
import { failedWith } from './errors.js';
import { Signal } from './signal.js';

/**
 * The conversation list, most recent activity first. The server is the source of truth: the
 * whole list is taken from each catch-up of the client (after every (re)connect), and one
 * conversation is re-read (coalesced) whenever the client says it changed.
 */
export class ConversationStore {
  readonly changed = new Signal();
  /** Emits the id of a conversation the caller is no longer a member of (404 on re-read). */
  readonly removed = new Signal<string>();
  loaded = false;
  private readonly items = new Map<string, Conversation>();
  private readonly refreshing = new Map<string, { again: boolean }>();

  constructor(private readonly api: ParleyApi) {}

  get(id: string): Conversation | undefined {
    return this.items.get(id);
  }

  sorted(): Conversation[] {
    return [...this.items.values()].sort(
      (a, b) => b.updatedAt.localeCompare(a.updatedAt) || Number(b.id) - Number(a.id),
    );
  }

  totalUnread(exceptId?: string): number {
    let total = 0;
    for (const conversation of this.items.values()) if (conversation.id !== exceptId) total += conversation.unreadCount;
    return total;
  }

  /** Re-reads every page of the list. */
  async refreshAll(): Promise<void> {
    this.replaceAll(await this.api.allConversations());
  }

  /** The whole list, as a catch-up read it (after connecting, and so after every reconnect). */
  replaceAll(conversations: Conversation[]): void {
    const previous = new Map(this.items);
    this.items.clear();
    for (const conversation of conversations) this.items.set(conversation.id, newest(previous.get(conversation.id), conversation));
    this.loaded = true;
    this.changed.emit();
  }

  put(conversation: Conversation): void {
    this.items.set(conversation.id, newest(this.items.get(conversation.id), conversation));
    this.changed.emit();
  }

  /** Re-reads one conversation; calls while one is in flight collapse into one more read. */
  refresh(id: string): void {
    const inFlight = this.refreshing.get(id);
    if (inFlight) {
      inFlight.again = true;
      return;
    }
    const state = { again: false };
    this.refreshing.set(id, state);
    void (async () => {
      do {
        state.again = false;
        try {
          this.put(await this.api.conversation(id));
        } catch (error) {
          if (failedWith(error, 404)) this.forget(id);
          // Other failures: the next frame or reconnect re-reads it.
          break;
        }
      } while (state.again);
      this.refreshing.delete(id);
    })();
  }

  /** The caller's read marker moved (here or in another tab: the `conversation.read` frame). */
  markedRead(id: string, lastReadSeq: number): void {
    const conversation = this.items.get(id);
    if (!conversation || lastReadSeq <= conversation.lastReadSeq) return;
    const lastSeq = Math.max(conversation.lastSeq, lastReadSeq);
    this.put({ ...conversation, lastSeq, lastReadSeq, unreadCount: Math.max(0, lastSeq - lastReadSeq) });
  }

  private forget(id: string): void {
    if (!this.items.delete(id)) return;
    this.removed.emit(id);
    this.changed.emit();
  }
}

/**
 * Two reads of one conversation may answer out of order (a whole-list read started before a
 * single re-read): keep the one that has seen more changes, and the furthest read marker
 * (it only moves forward on the server).
 */
function newest(held: Conversation | undefined, fresh: Conversation): Conversation {
  if (!held) return fresh;
  const base = held.lastChangeSeq > fresh.lastChangeSeq ? held : fresh;
  const lastReadSeq = Math.max(held.lastReadSeq, fresh.lastReadSeq);
  return { ...base, lastReadSeq, unreadCount: Math.max(0, base.lastSeq - lastReadSeq) };
}
