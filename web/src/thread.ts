import type { Conversation, Message, ParleyClient, PendingMessage, SendOptions } from '@parley/client';
import { errorText, failedWith } from './errors.js';
import { Signal } from './signal.js';

/** How many messages one history page holds. */
export const PAGE_SIZE = 30;

/**
 * What a change did, so the view knows how to scroll: `reset` (first page: to the bottom),
 * `older` (prepended: keep the reader's place), `newer` (appended: follow if at the bottom),
 * `own` (the user sent: to the bottom), `update` (in place).
 */
export type ThreadChange = 'reset' | 'older' | 'newer' | 'own' | 'update';

/**
 * The open conversation: a window of its history (newest page first, older pages on demand),
 * kept current by @parley/client, which emits each new message once and in seq order and each
 * change of one it emitted (an edit, a delete), whatever happened to the connection.
 *
 * Every read that moves the window or applies what the client emits runs in one queue, in
 * order, so a change is never checked against a window that another read is about to move.
 * A message the client emits past the newest in the window (the window was read before the
 * client's starting point) is preceded by the messages between, read forward. Applying is
 * idempotent (a message is replaced only by a later `changeSeq`), so overlaps do no harm and
 * each message appears once, in `seq` order.
 */
export class Thread {
  readonly changed = new Signal<ThreadChange>();
  status: 'loading' | 'ready' | 'failed' = 'loading';
  error: string | undefined;
  conversation: Conversation | undefined;
  hasOlder = false;
  loadingOlder = false;
  /** Other members' read markers (null: they do not share them), for "Seen by". */
  readonly receipts = new Map<string, number | null>();

  /** Messages that replies here quote, kept when they are outside the window. */
  private readonly quotes = new Map<string, Message | null>();

  private readonly messages = new Map<string, Message>();
  private orderedCache: Message[] | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readUpTo = 0;
  private readTimer: number | undefined;
  /** Whether the newest messages are in view (the view says so as it scrolls). */
  private atEnd = true;
  private readonly unsubscribe: Array<() => void>;

  constructor(
    readonly id: string,
    /** The session's client: its API, its live events, and its outbox (whose messages outlive this view). */
    private readonly client: ParleyClient,
    private readonly myId: string,
    /** Told when this client moved the read marker, so the list drops the unread count at once. */
    private readonly onRead: (conversationId: string, seq: number) => void,
  ) {
    this.unsubscribe = [
      client.on('outbox', (pending) => {
        if (pending.conversationId === id) this.changed.emit('update');
      }),
      // The server's answer to the user's own send: shown at once, before its notification.
      client.on('sent', ({ message }) => {
        if (message.conversationId === id) this.apply([message], 'own');
      }),
      client.on('message', (message) => {
        if (message.conversationId === id) this.enqueue(() => this.onNew(message));
      }),
      client.on('messageUpdated', (message) => {
        if (message.conversationId === id) this.enqueue(async () => this.apply([message], 'update'));
      }),
      client.on('read', ({ conversationId, userId, seq, own }) => {
        if (conversationId !== id || own || !userId) return;
        this.receipts.set(userId, Math.max(seq, this.receipts.get(userId) ?? 0));
        this.changed.emit('update');
      }),
    ];
  }

  /** The user's messages here that the server has not confirmed yet. */
  get pending(): readonly PendingMessage[] {
    return this.client.outbox.pending(this.id);
  }

  /** Confirmed messages in the window, oldest first. */
  ordered(): Message[] {
    this.orderedCache ??= [...this.messages.values()].sort((a, b) => a.seq - b.seq);
    return this.orderedCache;
  }

  open(): void {
    this.enqueue(() => this.load());
  }

  close(): void {
    // What was on screen has been read, even if the user leaves before the marker's short delay.
    if (this.readTimer !== undefined) this.sendRead();
    this.closed = true;
    for (const off of this.unsubscribe) off();
  }

  /** The connection is back: a window that failed to load is read again. */
  resume(): void {
    this.enqueue(async () => {
      if (this.status === 'failed') await this.load();
    });
  }

  /** A message new to the client: appended, after any the window lacks before it. */
  private async onNew(message: Message): Promise<void> {
    if (this.status !== 'ready') return;
    const newest = this.newestSeq();
    if (message.seq > newest + 1) await this.readForward(newest);
    this.apply([message], 'newer');
  }

  /** Re-reads the conversation itself (title, members) after `conversation.updated`. */
  refreshConversation(): void {
    this.enqueue(async () => {
      this.conversation = await this.client.api.conversation(this.id);
      this.changed.emit('update');
    });
  }

  loadOlder(): void {
    if (!this.hasOlder || this.loadingOlder || this.status !== 'ready') return;
    this.loadingOlder = true;
    this.changed.emit('update');
    this.enqueue(async () => {
      try {
        const page = await this.client.api.history(this.id, { before: this.oldestSeq(), limit: PAGE_SIZE });
        this.hasOlder = page.hasMore;
        this.apply(page.items, 'older', true);
      } finally {
        this.loadingOlder = false;
        this.changed.emit('update');
      }
    });
  }

  /** Shows the message at once, then confirms it with the server's answer. */
  send(body: string, options?: SendOptions): void {
    this.client.send(this.id, body, options);
    this.changed.emit('own');
  }

  /** A loaded message of this conversation, in the window or quoted by a reply. */
  find(id: string): Message | undefined {
    return this.messages.get(id) ?? this.quotes.get(id) ?? undefined;
  }

  /** The message a reply quotes; read once when it is outside the window (undefined meanwhile). */
  quoted(id: string): Message | undefined {
    const held = this.find(id);
    if (held || this.quotes.has(id)) return held;
    this.quotes.set(id, null);
    this.client.api.message(id).then(
      (message) => {
        this.quotes.set(id, message);
        this.changed.emit('update');
      },
      () => this.quotes.delete(id),
    );
    return undefined;
  }

  async toggleReaction(messageId: string, emoji: string, reacted: boolean): Promise<void> {
    await (reacted ? this.client.api.unreact(messageId, emoji) : this.client.api.react(messageId, emoji));
    this.apply([await this.client.api.message(messageId)], 'update');
  }

  async setPinned(messageId: string, pinned: boolean): Promise<void> {
    await (pinned ? this.client.api.pin(this.id, messageId) : this.client.api.unpin(this.id, messageId));
    this.apply([await this.client.api.message(messageId)], 'update');
  }

  /**
   * Loads older pages until the message with `seq` is in the window (the window never has
   * holes, so it grows down from the newest). Answers whether it is there.
   */
  reveal(seq: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.enqueue(async () => {
        try {
          while (this.status === 'ready' && this.hasOlder && this.oldestSeq() > seq) {
            const page = await this.client.api.history(this.id, { before: this.oldestSeq(), limit: 100 });
            this.hasOlder = page.hasMore;
            this.apply(page.items, 'older', true);
          }
        } finally {
          resolve(this.ordered().some((message) => message.seq === seq));
        }
      });
    });
  }

  /** Sends a failed message again with the same clientMessageId, so it is never stored twice. */
  retry(clientMessageId: string): void {
    this.client.outbox.retry(clientMessageId);
  }

  discard(clientMessageId: string): void {
    this.client.outbox.discard(clientMessageId);
  }

  async edit(messageId: string, body: string): Promise<void> {
    this.apply([await this.client.api.editMessage(messageId, body)], 'update');
  }

  async remove(messageId: string): Promise<void> {
    await this.client.api.deleteMessage(messageId);
    this.apply([await this.client.api.message(messageId)], 'update');
  }

  /** Whether messages newer than the read marker are loaded (shown below a reader scrolled up). */
  get hasUnread(): boolean {
    return this.newestSeq() > this.readUpTo;
  }

  /**
   * The view tells whether the newest messages are in view: a reader scrolled up into history
   * has not seen what arrives meanwhile, so the marker waits until they come back down.
   */
  setAtEnd(atEnd: boolean): void {
    if (atEnd === this.atEnd) return;
    this.atEnd = atEnd;
    if (atEnd) this.markRead();
  }

  /** Moves the read marker to the newest message, when it is in view on a page being looked at. */
  markRead(): void {
    if (this.closed || !this.atEnd || document.visibilityState !== 'visible') return;
    if (!this.hasUnread) return;
    // A burst of messages moves the marker once.
    window.clearTimeout(this.readTimer);
    this.readTimer = window.setTimeout(() => this.sendRead(), 200);
  }

  private sendRead(): void {
    window.clearTimeout(this.readTimer);
    this.readTimer = undefined;
    const seq = this.newestSeq();
    if (this.closed || seq <= this.readUpTo) return;
    this.readUpTo = seq;
    this.onRead(this.id, seq);
    this.client.api.markRead(this.id, seq).catch(() => {
      // The marker stays where the server has it; the next message or visit moves it again.
      this.readUpTo = 0;
    });
  }

  private async load(): Promise<void> {
    this.status = 'loading';
    this.changed.emit('update');
    try {
      const conversation = await this.client.api.conversation(this.id);
      const page = await this.client.api.history(this.id, { limit: PAGE_SIZE });
      this.conversation = conversation;
      void this.loadReceipts();
      this.readUpTo = conversation.lastReadSeq;
      // Keep what the user sent meanwhile (answers to its own sends), unless it is older than
      // this page: the window must have no holes.
      const pageOldest = page.items.at(-1)?.seq;
      if (pageOldest !== undefined) {
        for (const [id, message] of this.messages) if (message.seq < pageOldest) this.messages.delete(id);
      }
      this.orderedCache = undefined;
      this.hasOlder = page.hasMore;
      this.status = 'ready';
      this.error = undefined;
      this.apply(page.items, 'reset', true);
    } catch (error) {
      this.status = 'failed';
      this.error = failedWith(error, 404)
        ? 'This conversation does not exist, or you are no longer a member.'
        : errorText(error, 'Could not load this conversation.');
      this.changed.emit('update');
    }
  }

  /** Read markers are a courtesy: without them "Seen by" waits for the next `read` event. */
  private async loadReceipts(): Promise<void> {
    try {
      for (const receipt of await this.client.api.receipts(this.id)) {
        if (receipt.userId === this.myId) continue;
        const live = this.receipts.get(receipt.userId) ?? null;
        this.receipts.set(receipt.userId, receipt.lastReadSeq === null ? live : Math.max(receipt.lastReadSeq, live ?? 0));
      }
      this.changed.emit('update');
    } catch {
      // Shown without "Seen by" until a marker moves.
    }
  }

  /** The messages after `seq`, oldest first, page by page. */
  private async readForward(seq: number): Promise<void> {
    for (let after = seq; ; ) {
      const page = await this.client.api.history(this.id, { after, limit: 100 });
      this.apply(page.items, 'newer');
      after = page.items.at(-1)?.seq ?? after;
      if (!page.hasMore) return;
    }
  }

  /**
   * Adds or replaces messages. Outside the window (older than its oldest message while older
   * pages remain) a change is skipped: loading that page later shows the message as it is then.
   */
  private apply(items: Message[], change: ThreadChange, isHistoryPage = false): void {
    if (this.closed) return;
    const oldest = this.oldestSeq();
    const applied: Message[] = [];
    for (const message of items) {
      if (message.conversationId !== this.id) continue;
      if (this.quotes.get(message.id)) this.quotes.set(message.id, message);
      if (!isHistoryPage && this.hasOlder && message.seq < oldest) continue;
      const held = this.messages.get(message.id);
      if (held && held.changeSeq >= message.changeSeq) continue;
      this.messages.set(message.id, message);
      applied.push(message);
    }
    if (applied.length === 0 && change !== 'reset') return;
    this.orderedCache = undefined;
    // Stored: no longer pending (from the server's answer, or first from a page of history).
    for (const message of applied) if (message.senderId === this.myId) this.client.outbox.confirm(message);
    this.changed.emit(change);
    this.markRead();
  }

  private newestSeq(): number {
    return this.ordered().at(-1)?.seq ?? 0;
  }

  private oldestSeq(): number {
    return this.ordered()[0]?.seq ?? Number.POSITIVE_INFINITY;
  }

  /** Runs reads one after another; a failure is left for the next frame or reconnect to repair. */
  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.closed) return;
      try {
        await task();
      } catch (error) {
        console.warn(`conversation ${this.id}:`, error);
      }
    });
  }
}
