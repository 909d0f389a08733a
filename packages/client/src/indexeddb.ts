import type { ConversationCursor, SyncStore } from './store.js';

/**
 * Keeps the cursors in the browser's IndexedDB (one record per user and conversation), so
 * that a reloaded page catches up from where it stopped: what arrived while it was closed is
 * emitted, what it had already is not.
 */
export class IndexedDbStore implements SyncStore {
  private db: Promise<IDBDatabase> | undefined;

  constructor(private readonly name = 'parley-client') {}

  async load(userId: string): Promise<Record<string, ConversationCursor> | undefined> {
    const db = await this.open();
    const [synced, rows] = await Promise.all([
      request<unknown>(db.transaction('users').objectStore('users').get(userId)),
      request<{ userId: string; conversationId: string; cursor: ConversationCursor }[]>(
        db.transaction('cursors').objectStore('cursors').index('userId').getAll(userId),
      ),
    ]);
    if (synced === undefined) return undefined;
    return Object.fromEntries(rows.map((row) => [row.conversationId, row.cursor]));
  }

  async saveAll(userId: string, cursors: Record<string, ConversationCursor>): Promise<void> {
    const db = await this.open();
    const transaction = db.transaction(['users', 'cursors'], 'readwrite');
    const store = transaction.objectStore('cursors');
    const keys = await request<IDBValidKey[]>(store.index('userId').getAllKeys(userId));
    for (const key of keys) store.delete(key);
    for (const [conversationId, cursor] of Object.entries(cursors)) store.put({ userId, conversationId, cursor });
    transaction.objectStore('users').put({ userId, syncedAt: Date.now() });
    await done(transaction);
  }

  async save(userId: string, conversationId: string, cursor: ConversationCursor): Promise<void> {
    const transaction = (await this.open()).transaction('cursors', 'readwrite');
    transaction.objectStore('cursors').put({ userId, conversationId, cursor });
    await done(transaction);
  }

  async remove(userId: string, conversationId: string): Promise<void> {
    const transaction = (await this.open()).transaction('cursors', 'readwrite');
    transaction.objectStore('cursors').delete([userId, conversationId]);
    await done(transaction);
  }

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const opening = indexedDB.open(this.name, 1);
      opening.onupgradeneeded = () => {
        const db = opening.result;
        db.createObjectStore('users', { keyPath: 'userId' });
        db.createObjectStore('cursors', { keyPath: ['userId', 'conversationId'] }).createIndex('userId', 'userId');
      };
      opening.onsuccess = () => resolve(opening.result);
      opening.onerror = () => reject(opening.error ?? new Error('IndexedDB could not be opened'));
    });
    return this.db;
  }
}

function request<T>(req: IDBRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result as T);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function done(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
    transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
  });
}
