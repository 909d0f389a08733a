import { ParleyError } from './errors.js';
import type { Conversation, Message, ParleyApi } from './http.js';
import type { MessageFrame } from './frames.js';
import type { NotificationFrame } from './live.js';
import type { ConversationCursor, SyncStore } from './store.js';

/** A read marker moved: the user's own (from another tab or device), or another member's. */
export interface ReadEvent {
  conversationId: string;
  /** Whose marker; undefined when the server names none (the caller's own). */
  userId?: string;
  seq: number;
  own: boolean;
}

export interface TypingEvent {
  conversationId: string;
  userId: string;
}

export interface PresenceEvent {
  userId: string;
  status: 'online' | 'offline';
  lastSeenAt: string | null;
}

export interface SyncEvents {
  /** A message new to the client: each once, and per conversation in seq order. */
  message: Message;
  /** A message already emitted changed (edited, deleted: `body` null and `deletedAt` set). */
  messageUpdated: Message;
  /** A conversation was created, or its members changed: re-read it. */
  conversation: { conversationId: string };
  /** The user is no longer a member of this conversation. */
  left: { conversationId: string };
  read: ReadEvent;
  typing: TypingEvent;
  presence: PresenceEvent;
  /** A catch-up finished: everything committed before it has been emitted. */
  synced: { conversations: Conversation[] };
  /** A read or a store write failed; the client retries by itself. */
  error: ParleyError;
}

export interface SyncOptions {
  /**
   * On the very first sync of a user (nothing in the store): `skip` starts each existing
   * conversation where it was when the socket became ready; `all` emits their whole history.
   * Conversations that appear later are always emitted from their first message.
   */
  backlog: 'skip' | 'all';
  pageSize: number;
}

interface State {
  id: string;
  lastSeq: number;
  lastChangeSeq: number;
  appliedAbove: Set<number>;
  /** Messages past a gap in seq, held until the gap is filled so that order is kept. */
  pending: Map<number, Message>;
}

type Emit = <K extends keyof SyncEvents>(event: K, value: SyncEvents[K]) => void;

/**
 * The catch-up procedure of docs/socket.md, with the guarantee on top that every message is
 * emitted once and, per conversation, in seq order, whatever happened to the connection.
 *
 * Per conversation it keeps how far it has emitted (`lastSeq`) and applied changes
 * (`lastChangeSeq`). All work on one conversation runs in one queue. A notification that
 * follows on directly from what is held (the next seq; a change to a message already
 * emitted) is fetched by id; anything else (a gap: a missed notification, or concurrent sends
 * announced out of order) reads the changes feed from `lastChangeSeq`. After every `ready`
 * and `resync` the conversation list says which conversations have changes beyond the
 * cursors, and their feeds are read. A version is applied only if its change is not applied
 * yet, so overlaps do no harm.
 */
export class Sync {
  private userId: string | undefined;
  private readonly states = new Map<string, State>();
  private readonly queues = new Map<string, Promise<boolean>>();
  /** Nothing stored for this user: the first catch-up sets the starting points. */
  private fresh = true;
  private gate: Promise<void> = Promise.resolve();
  private openGate: () => void = () => undefined;
  /**
   * During a first sync: per conversation, the lowest seq and change announced since `ready`.
   * What they announce is newer than the starting point, even if the list read after them
   * already counts it.
   */
  private early = new Map<string, { seq: number; changeSeq: number }>();
  /** Bumped when the user changes, so that work queued for the previous one is dropped. */
  private generation = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly api: ParleyApi,
    private readonly store: SyncStore,
    private readonly emit: Emit,
    private readonly options: SyncOptions,
  ) {}

  /** The socket said `ready` (first, or after a reconnect): catch up. */
  async ready(userId: string): Promise<void> {
    if (this.userId !== userId) await this.switchUser(userId);
    return this.catchUp();
  }

  frame(frame: NotificationFrame): void {
    switch (frame.type) {
      case 'message.created':
      case 'message.updated':
      case 'message.deleted':
        if (this.fresh) this.noteEarly(frame);
        void this.enqueue(frame.conversationId, (state) => this.onMessageFrame(state, frame));
        return;
      case 'conversation.updated':
        this.emit('conversation', { conversationId: frame.conversationId });
        // A conversation just joined has messages that no notification announced.
        void this.enqueue(frame.conversationId, (state) => this.pull(state));
        return;
      case 'conversation.read': {
        const seq = frame.seq ?? frame.lastReadSeq;
        if (typeof seq !== 'number') return;
        const own = frame.userId === undefined || frame.userId === this.userId;
        this.emit('read', { conversationId: frame.conversationId, ...(frame.userId ? { userId: frame.userId } : {}), seq, own });
        return;
      }
      case 'resync':
        void this.catchUp();
        return;
      case 'typing':
        this.emit('typing', { conversationId: frame.conversationId, userId: frame.userId });
        return;
      case 'presence':
        this.emit('presence', { userId: frame.userId, status: frame.status, lastSeenAt: frame.lastSeenAt });
        return;
    }
  }

  /** Lists the conversations and reads the feed of each with changes past its cursor. */
  catchUp(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.runCatchUp();
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /** The cursor of one conversation, as stored. */
  cursor(conversationId: string): ConversationCursor | undefined {
    const state = this.states.get(conversationId);
    return state ? toCursor(state) : undefined;
  }

  /** Resolves once every queued read has finished. */
  async idle(): Promise<void> {
    while (this.running || this.queues.size > 0) {
      await this.running;
      await Promise.all(this.queues.values());
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  private async switchUser(userId: string): Promise<void> {
    this.generation++;
    this.userId = userId;
    this.states.clear();
    this.queues.clear();
    this.early.clear();
    let opened!: () => void;
    this.gate = new Promise<void>((resolve) => (opened = resolve));
    this.openGate = opened;
    let stored: Record<string, ConversationCursor> | undefined;
    try {
      stored = await this.store.load(userId);
    } catch (error) {
      this.emit('error', asParleyError(error));
    }
    this.fresh = stored === undefined;
    for (const [id, cursor] of Object.entries(stored ?? {})) {
      this.states.set(id, { id, lastSeq: cursor.lastSeq, lastChangeSeq: cursor.lastChangeSeq, appliedAbove: new Set(cursor.appliedAbove ?? []), pending: new Map() });
    }
    if (!this.fresh) this.openGate();
  }

  private async runCatchUp(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const generation = this.generation;
    const userId = this.userId;
    if (!userId || this.stopped) return;
    let conversations: Conversation[];
    try {
      conversations = await this.api.allConversations(this.options.pageSize);
    } catch (error) {
      return this.failed(error);
    }
    if (generation !== this.generation || this.stopped) return;
    if (this.fresh) {
      // The first sync of this user here: its starting points, then frames may be handled.
      for (const conversation of conversations) {
        const skip = this.options.backlog === 'skip';
        const early = this.early.get(conversation.id);
        this.states.set(conversation.id, {
          id: conversation.id,
          lastSeq: skip ? Math.min(conversation.lastSeq, (early?.seq ?? Infinity) - 1) : 0,
          lastChangeSeq: skip ? Math.min(conversation.lastChangeSeq, (early?.changeSeq ?? Infinity) - 1) : 0,
          appliedAbove: new Set(),
          pending: new Map(),
        });
      }
      this.early.clear();
      try {
        await this.store.saveAll(userId, Object.fromEntries([...this.states.values()].map((state) => [state.id, toCursor(state)])));
      } catch (error) {
        this.emit('error', asParleyError(error));
      }
      this.fresh = false;
      this.openGate();
    }
    const reads: Promise<boolean>[] = [];
    for (const conversation of conversations) {
      const state = this.states.get(conversation.id);
      if (!state || conversation.lastChangeSeq > state.lastChangeSeq || conversation.lastSeq > state.lastSeq) {
        reads.push(this.enqueue(conversation.id, (held) => this.pull(held)));
      }
    }
    const results = await Promise.all(reads);
    if (generation !== this.generation || this.stopped || results.includes(false)) return;
    this.failures = 0;
    this.emit('synced', { conversations });
  }

  private noteEarly(frame: MessageFrame): void {
    const noted = this.early.get(frame.conversationId) ?? { seq: Infinity, changeSeq: Infinity };
    if (frame.type === 'message.created') noted.seq = Math.min(noted.seq, frame.seq);
    noted.changeSeq = Math.min(noted.changeSeq, frame.changeSeq);
    this.early.set(frame.conversationId, noted);
  }

  private async onMessageFrame(state: State, frame: MessageFrame): Promise<void> {
    if (isApplied(state, frame.changeSeq)) return;
    const followsOn = frame.type === 'message.created' ? frame.seq === state.lastSeq + 1 : frame.seq <= state.lastSeq;
    if (!followsOn) return this.pull(state);
    const message = await this.api.message(frame.id);
    this.apply(state, message);
    markApplied(state, frame.changeSeq);
  }

  /** Reads the changes feed from the cursor to the end. */
  private async pull(state: State): Promise<void> {
    let since = state.lastChangeSeq;
    for (;;) {
      const page = await this.api.changes(state.id, since, this.options.pageSize);
      for (const message of page.items) this.apply(state, message);
      since = Math.max(since, page.lastChangeSeq);
      // Every change up to `since` is applied, unless a message is still held for a gap.
      if (state.pending.size === 0) advanceTo(state, since);
      if (!page.hasMore) return;
    }
  }

  /** Emits a version of a message if it is new to the client. */
  private apply(state: State, message: Message): void {
    if (message.seq <= state.lastSeq) {
      if (isApplied(state, message.changeSeq)) return;
      markApplied(state, message.changeSeq);
      this.emit('messageUpdated', message);
      return;
    }
    const held = state.pending.get(message.seq);
    if (!held || held.changeSeq < message.changeSeq) state.pending.set(message.seq, message);
    for (let next = state.pending.get(state.lastSeq + 1); next; next = state.pending.get(state.lastSeq + 1)) {
      state.pending.delete(next.seq);
      state.lastSeq = next.seq;
      markApplied(state, next.changeSeq);
      this.emit('message', next);
    }
  }

  /**
   * Runs `task` in the conversation's queue, after the first sync has set the starting points,
   * then stores the cursor if it moved. Answers whether the task succeeded.
   */
  private enqueue(conversationId: string, task: (state: State) => Promise<void>): Promise<boolean> {
    const generation = this.generation;
    const previous = this.queues.get(conversationId) ?? Promise.resolve(true);
    const next = previous.then(async () => {
      await this.gate;
      if (generation !== this.generation || this.stopped) return true;
      const known = this.states.has(conversationId);
      const state = this.state(conversationId);
      const before = JSON.stringify(toCursor(state));
      let ok = true;
      try {
        await task(state);
      } catch (error) {
        const failure = asParleyError(error);
        if (failure.statusCode === 404) return this.forget(conversationId, known);
        ok = false;
        this.failed(failure);
      }
      if (generation === this.generation && this.userId && JSON.stringify(toCursor(state)) !== before) {
        await this.store.save(this.userId, conversationId, toCursor(state)).catch((error: unknown) => this.emit('error', asParleyError(error)));
      }
      return ok;
    });
    this.queues.set(conversationId, next);
    void next.then(() => {
      if (this.queues.get(conversationId) === next) this.queues.delete(conversationId);
    });
    return next;
  }

  /** 404: the user has left the conversation (or was removed); `known` if it was a member before. */
  private async forget(conversationId: string, known: boolean): Promise<boolean> {
    this.states.delete(conversationId);
    if (!known) return true;
    if (this.userId) await this.store.remove(this.userId, conversationId).catch((error: unknown) => this.emit('error', asParleyError(error)));
    this.emit('left', { conversationId });
    return true;
  }

  private state(conversationId: string): State {
    let state = this.states.get(conversationId);
    if (!state) {
      // Seen after the first sync: new to the user, so all of it is new.
      state = { id: conversationId, lastSeq: 0, lastChangeSeq: 0, appliedAbove: new Set(), pending: new Map() };
      this.states.set(conversationId, state);
    }
    return state;
  }

  /** A read failed: catch up again after a wait that doubles up to 30 s. */
  private failed(error: unknown): void {
    this.emit('error', asParleyError(error));
    if (this.stopped || this.retryTimer) return;
    const ceiling = Math.min(30_000, 1_000 * 2 ** this.failures);
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.catchUp();
    }, Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
  }
}

function isApplied(state: State, changeSeq: number): boolean {
  return changeSeq <= state.lastChangeSeq || state.appliedAbove.has(changeSeq);
}

function markApplied(state: State, changeSeq: number): void {
  if (changeSeq <= state.lastChangeSeq) return;
  state.appliedAbove.add(changeSeq);
  advanceTo(state, state.lastChangeSeq);
}

/**
 * Moves the change cursor to `to` (everything up to it is applied) and on past any change
 * applied contiguously above it. Changes whose notifications were missed keep it below them.
 */
function advanceTo(state: State, to: number): void {
  state.lastChangeSeq = Math.max(state.lastChangeSeq, to);
  for (const seen of state.appliedAbove) if (seen <= state.lastChangeSeq) state.appliedAbove.delete(seen);
  while (state.appliedAbove.delete(state.lastChangeSeq + 1)) state.lastChangeSeq++;
}

function toCursor(state: State): ConversationCursor {
  const cursor: ConversationCursor = { lastSeq: state.lastSeq, lastChangeSeq: state.lastChangeSeq };
  if (state.appliedAbove.size > 0) cursor.appliedAbove = [...state.appliedAbove].sort((a, b) => a - b);
  return cursor;
}

function asParleyError(error: unknown): ParleyError {
  if (error instanceof ParleyError) return error;
  return new ParleyError(0, 'Client Error', error instanceof Error ? error.message : String(error), { cause: error });
}
