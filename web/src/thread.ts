import type { MessageFrame } from '../../src/notifications/frames.js';
import { ApiError, type Api, type Conversation, type Message } from './api.js';
import type { Outbox, PendingMessage } from './outbox.js';
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
 * The open conversation: a window of its history (newest page first, older pages on demand)
 * kept exact with the changes feed.
 *
 * Every read that moves the window or applies changes runs in one queue, in order, so a change
 * is never checked against a window that another read is about to move. `known` is the
 * conversation's change counter up to which everything has been applied: a frame for change
 * `known + 1` is fetched by id (the narrowfail GET); any further ahead means something was
 * missed (a dropped socket), and the changes feed since `known` fills the gap. Applying is
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

  private readonly messages = new Map<string, Message>();
  private orderedCache: Message[] | undefined;
  private known = 0;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readUpTo = 0;
  private readTimer: number | undefined;
  /** Whether the newest messages are in view (the view says so as it scrolls). */
  private atEnd = true;
  private readonly unsubscribe: Array<() => void>;

  constructor(
    readonly id: string,
    private readonly api: Api,
    private readonly myId: string,
    /** The user's unconfirmed messages, this conversation's among them; they outlive this view. */
    private readonly outbox: Outbox,
    /** Told when this client moved the read marker, so the list drops the unread count at once. */
    private readonly onRead: (conversationId: string, seq: number) => void,
  ) {
    this.unsubscribe = [
      outbox.changed.subscribe((conversationId) => {
        if (conversationId === id) this.changed.emit('update');
      }),
      outbox.delivered.subscribe((message) => {
        if (message.conversationId === id) this.apply([message], 'own');
      }),
    ];
  }

  /** The user's messages here that the server has not confirmed yet. */
  get pending(): readonly PendingMessage[] {
    return this.outbox.in(this.id);
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

  /** After (re)connecting: apply everything that changed since `known`. */
  catchUp(): void {
    this.enqueue(() => (this.status === 'ready' ? this.pullChanges() : this.load()));
  }

  onFrame(frame: MessageFrame): void {
    this.enqueue(async () => {
      if (this.status !== 'ready' || frame.changeSeq <= this.known) return;
      if (frame.changeSeq > this.known + 1) return this.pullChanges();
      const held = this.messages.get(frame.id);
      const outsideWindow = this.hasOlder && frame.seq < this.oldestSeq();
      if (!outsideWindow && !(held && held.changeSeq >= frame.changeSeq)) {
        this.apply([await this.api.message(frame.id)], 'newer');
      }
      this.known = frame.changeSeq;
    });
  }

  /** Re-reads the conversation itself (title, members) after `conversation.updated`. */
  refreshConversation(): void {
    this.enqueue(async () => {
      this.conversation = await this.api.conversation(this.id);
      this.changed.emit('update');
    });
  }

  loadOlder(): void {
    if (!this.hasOlder || this.loadingOlder || this.status !== 'ready') return;
    this.loadingOlder = true;
    this.changed.emit('update');
    this.enqueue(async () => {
      try {
        const page = await this.api.history(this.id, { before: this.oldestSeq(), limit: PAGE_SIZE });
        this.hasOlder = page.hasMore;
        this.apply(page.items, 'older', true);
      } finally {
        this.loadingOlder = false;
        this.changed.emit('update');
      }
    });
  }

  /** Shows the message at once, then confirms it with the server's answer. */
  send(body: string): void {
    this.outbox.send(this.id, body);
    this.changed.emit('own');
  }

  /** Sends a failed message again with the same clientMessageId, so it is never stored twice. */
  retry(clientMessageId: string): void {
    this.outbox.retry(this.id, clientMessageId);
  }

  discard(clientMessageId: string): void {
    this.outbox.discard(this.id, clientMessageId);
  }

  async edit(messageId: string, body: string): Promise<void> {
    this.apply([await this.api.edit(messageId, body)], 'update');
  }

  async remove(messageId: string): Promise<void> {
    await this.api.delete(messageId);
    this.apply([await this.api.message(messageId)], 'update');
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
    this.api.markRead(this.id, seq).catch(() => {
      // The marker stays where the server has it; the next message or visit moves it again.
      this.readUpTo = 0;
    });
  }

  private async load(): Promise<void> {
    this.status = 'loading';
    this.changed.emit('update');
    try {
      // The conversation first: its change counter is then at most what the page shows.
      const conversation = await this.api.conversation(this.id);
      const page = await this.api.history(this.id, { limit: PAGE_SIZE });
      this.conversation = conversation;
      this.known = conversation.lastChangeSeq;
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
      this.error =
        error instanceof ApiError && error.status === 404
          ? 'This conversation does not exist, or you are no longer a member.'
          : error instanceof ApiError
            ? error.message
            : 'Could not load this conversation.';
      this.changed.emit('update');
    }
  }

  /** The changes feed from `known`, page by page. */
  private async pullChanges(): Promise<void> {
    for (;;) {
      const page = await this.api.changes(this.id, this.known);
      this.apply(page.items, 'newer');
      this.known = Math.max(this.known, page.lastChangeSeq);
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
      if (!isHistoryPage && this.hasOlder && message.seq < oldest) continue;
      const held = this.messages.get(message.id);
      if (held && held.changeSeq >= message.changeSeq) continue;
      this.messages.set(message.id, message);
      applied.push(message);
    }
    if (applied.length === 0 && change !== 'reset') return;
    this.orderedCache = undefined;
    // Stored: no longer pending (from the server's answer, or first from a frame or a page).
    for (const message of applied) if (message.senderId === this.myId) this.outbox.confirmed(message);
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
