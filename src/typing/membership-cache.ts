/** Reads a conversation's member ids from the database. */
export type MemberLoader = (conversationId: string) => Promise<string[]>;

interface Entry {
  members: ReadonlySet<string>;
  version: string;
  loadedAt: number;
}

/** Conversations whose member lists are kept; the least recently used go first. */
const MAX_ENTRIES = 20_000;
/** A list is read again after this long whatever its version says (a bound on any lapse). */
const MAX_AGE_MS = 60_000;

/**
 * Each conversation's members, as last read from the database, with the membership version
 * (see TypingStore) they were read at. A lookup names the current version: a list read at
 * another is read again, so a change made on any instance is seen by the next frame here. A
 * read that started before the change and ends after it is stored under the old version, and
 * is never taken for the new one.
 */
export class MembershipCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<ReadonlySet<string>>>();
  /** Moves on `clear`, so that reads in flight then do not store what they found. */
  private epoch = 0;

  constructor(
    private readonly load: MemberLoader,
    private readonly maxEntries = MAX_ENTRIES,
    private readonly maxAgeMs = MAX_AGE_MS,
  ) {}

  /** The members at `version`; null: unknown, read from the database and kept nowhere. */
  async members(conversationId: string, version: string | null): Promise<ReadonlySet<string>> {
    if (version === null) return new Set(await this.load(conversationId));
    const entry = this.entries.get(conversationId);
    if (entry && entry.version === version && Date.now() - entry.loadedAt < this.maxAgeMs) {
      // Most recently used last: Map keeps insertion order.
      this.entries.delete(conversationId);
      this.entries.set(conversationId, entry);
      return entry.members;
    }
    const key = `${conversationId}@${version}`;
    let pending = this.loading.get(key);
    if (!pending) {
      const epoch = this.epoch;
      pending = this.load(conversationId)
        .then((ids) => {
          const members: ReadonlySet<string> = new Set(ids);
          if (epoch === this.epoch) this.store(conversationId, { members, version, loadedAt: Date.now() });
          return members;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  /** Forgets one conversation's list (its members changed on this instance). */
  evict(conversationId: string): void {
    this.entries.delete(conversationId);
  }

  /** Forgets every list (versions may have moved unseen). */
  clear(): void {
    this.epoch++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /** The last read to finish wins; if its version is not the current one, the next lookup reads again. */
  private store(conversationId: string, entry: Entry): void {
    this.entries.delete(conversationId);
    this.entries.set(conversationId, entry);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
