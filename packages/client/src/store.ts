/**
 * How far the client has got in one conversation: every message with a seq up to `lastSeq`
 * has been emitted, and every change up to `lastChangeSeq` applied. `appliedAbove` holds
 * changes applied past a gap (notifications can arrive out of order).
 */
export interface ConversationCursor {
  lastSeq: number;
  lastChangeSeq: number;
  appliedAbove?: number[];
}

/**
 * Where the client remembers its cursors, per user, so that a restarted application catches
 * up from where it stopped instead of from the start. `MemoryStore` (the default) forgets
 * them when the process ends; `IndexedDbStore` (`@parley/client/indexeddb`) keeps them in a
 * browser, `FileStore` (`@parley/client/node`) in a file.
 */
export interface SyncStore {
  /** Every cursor kept for this user, or undefined if the user was never synced here. */
  load(userId: string): Promise<Record<string, ConversationCursor> | undefined>;
  /** Replaces everything kept for this user (the first sync; it may be empty). */
  saveAll(userId: string, cursors: Record<string, ConversationCursor>): Promise<void>;
  save(userId: string, conversationId: string, cursor: ConversationCursor): Promise<void>;
  /** The user has left the conversation. */
  remove(userId: string, conversationId: string): Promise<void>;
}

/** Keeps the cursors in memory: a restarted process syncs afresh. */
export class MemoryStore implements SyncStore {
  private readonly users = new Map<string, Record<string, ConversationCursor>>();

  load(userId: string): Promise<Record<string, ConversationCursor> | undefined> {
    const cursors = this.users.get(userId);
    return Promise.resolve(cursors ? structuredClone(cursors) : undefined);
  }

  saveAll(userId: string, cursors: Record<string, ConversationCursor>): Promise<void> {
    this.users.set(userId, structuredClone(cursors));
    return Promise.resolve();
  }

  save(userId: string, conversationId: string, cursor: ConversationCursor): Promise<void> {
    const cursors = this.users.get(userId) ?? {};
    cursors[conversationId] = structuredClone(cursor);
    this.users.set(userId, cursors);
    return Promise.resolve();
  }

  remove(userId: string, conversationId: string): Promise<void> {
    delete this.users.get(userId)?.[conversationId];
    return Promise.resolve();
  }
}
