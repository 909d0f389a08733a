import type supertest from 'supertest';
import type { ServerFrame } from '../../src/notifications/frames.js';
import { TestSocket } from './ws-client.js';

/** A message as the client holds it. */
export interface HeldMessage {
  id: string;
  conversationId: string;
  seq: number;
  changeSeq: number;
  senderId: string;
  body: string | null;
  clientMessageId: string | null;
  editedAt: string | null;
  deletedAt: string | null;
}

interface ConversationState {
  /** The highest seq at and below which the client holds every message. */
  lastSeq: number;
  /** The highest change seq at and below which the client has applied every change. */
  lastChangeSeq: number;
  /** Change seqs applied above `lastChangeSeq` (from frames, which may arrive out of order). */
  appliedAbove: Set<number>;
  bySeq: Map<number, HeldMessage>;
}

/**
 * How the client catches up: through the changes feed (new messages, edits and deletes), or,
 * for a client that only needs new messages, through `messages?after=`.
 */
export type CatchUpMode = 'changes' | 'messages';

/**
 * A client that follows docs/socket.md, "Catching up after being offline", to the letter: it keeps,
 * per conversation, the last seq and change seq it holds; after (re)connecting it waits for
 * `ready`, lists its conversations, and fetches what it lacks; it applies a message only if its
 * `changeSeq` is above the version it holds, so frames arriving during the catch-up do no harm.
 * It records every change it applies, so a test can check that nothing was applied twice.
 */
export class CatchUpClient {
  readonly conversations = new Map<string, ConversationState>();
  /** Every version the client applied, in order: `<id>@<changeSeq>`. */
  readonly applied: string[] = [];
  /** Ids the client appended to a timeline as new messages (twice would be a duplicate). */
  readonly appended: string[] = [];
  socket?: TestSocket;
  private work: Promise<void> = Promise.resolve();
  private failure?: Error;

  constructor(
    private readonly service: { http: () => supertest.Agent; wsUrl: string },
    private readonly token: string,
    private readonly mode: CatchUpMode = 'changes',
  ) {}

  /** Connects, waits for `ready`, then catches up; frames are handled as they come. */
  async connect(): Promise<void> {
    const socket = await TestSocket.connect(this.service.wsUrl, { token: this.token });
    this.socket = socket;
    // Frames are taken from the socket's record as they arrive and handled one at a time.
    socket.socket.on('message', () => this.enqueue(() => this.drainFrames(socket)));
    this.enqueue(() => this.drainFrames(socket));
    await this.catchUp();
  }

  /** Drops the connection abruptly, as a lost network does: no close handshake. */
  disconnect(): void {
    this.socket?.socket.terminate();
    this.socket = undefined;
  }

  /** The documented procedure: list conversations, then fetch what is above what we hold. */
  async catchUp(): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.get('/api/v1/conversations', { limit: 100, ...(cursor ? { cursor } : {}) });
      for (const conversation of page.items as { id: string; lastSeq: number; lastChangeSeq: number }[]) {
        const state = this.state(conversation.id);
        if (this.mode === 'changes' && conversation.lastChangeSeq > state.lastChangeSeq) {
          await this.fetchChanges(conversation.id);
        } else if (this.mode === 'messages' && conversation.lastSeq > state.lastSeq) {
          await this.fetchNewMessages(conversation.id);
        }
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** Resolves once every frame received so far has been handled; rethrows a handling failure. */
  async settled(): Promise<void> {
    let pending: Promise<void>;
    do {
      pending = this.work;
      await pending;
    } while (pending !== this.work);
    if (this.failure) throw this.failure;
  }

  /** The messages held for one conversation, by seq. */
  messages(conversationId: string): HeldMessage[] {
    return [...this.state(conversationId).bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  private async fetchChanges(conversationId: string): Promise<void> {
    for (;;) {
      const state = this.state(conversationId);
      const page = await this.get(`/api/v1/conversations/${conversationId}/changes`, { since: state.lastChangeSeq, limit: 100 });
      for (const message of page.items as HeldMessage[]) this.apply(message);
      // The feed returns every change in (since, lastChangeSeq]: all of them are applied now.
      this.advanceChangeSeq(state, page.lastChangeSeq);
      if (!page.hasMore) return;
    }
  }

  private async fetchNewMessages(conversationId: string): Promise<void> {
    for (;;) {
      const page = await this.get(`/api/v1/conversations/${conversationId}/messages`, {
        after: this.state(conversationId).lastSeq,
        limit: 100,
      });
      for (const message of page.items as HeldMessage[]) this.apply(message);
      if (!page.hasMore) return;
    }
  }

  private async drainFrames(socket: TestSocket): Promise<void> {
    for (const frame of socket.frames.splice(0)) await this.handle(frame);
  }

  private async handle(frame: ServerFrame): Promise<void> {
    switch (frame.type) {
      case 'message.created':
      case 'message.updated':
      case 'message.deleted': {
        const response = await this.service.http().get(`/api/v1/messages/${frame.id}`).set(this.auth);
        // 404: the user has left the conversation since; there is nothing to show.
        if (response.status === 404) return;
        if (response.status !== 200) throw new Error(`GET message ${frame.id}: ${response.status}`);
        this.apply(response.body as HeldMessage);
        const state = this.state(frame.conversationId);
        this.markChangeApplied(state, frame.changeSeq);
        return;
      }
      case 'conversation.updated':
      case 'resync':
        // A conversation the client may not know yet, or frames it may have missed.
        return this.catchUp();
      default:
        return;
    }
  }

  /** Applies a version of a message only if it is newer than the one held. */
  private apply(message: HeldMessage): void {
    const state = this.state(message.conversationId);
    const held = state.bySeq.get(message.seq);
    if (held && held.changeSeq >= message.changeSeq) return;
    if (!held) this.appended.push(message.id);
    state.bySeq.set(message.seq, { ...message });
    this.applied.push(`${message.id}@${message.changeSeq}`);
    while (state.bySeq.has(state.lastSeq + 1)) state.lastSeq++;
    // The version held reflects its own change.
    this.markChangeApplied(state, message.changeSeq);
  }

  private markChangeApplied(state: ConversationState, changeSeq: number): void {
    if (changeSeq <= state.lastChangeSeq) return;
    state.appliedAbove.add(changeSeq);
    this.advanceChangeSeq(state, state.lastChangeSeq);
  }

  /**
   * Moves the change watermark to `to` (everything up to it is applied) and past any change
   * applied contiguously above it. Changes whose frames were missed keep it below them, so the
   * next catch-up asks for them.
   */
  private advanceChangeSeq(state: ConversationState, to: number): void {
    state.lastChangeSeq = Math.max(state.lastChangeSeq, to);
    for (const seen of state.appliedAbove) if (seen <= state.lastChangeSeq) state.appliedAbove.delete(seen);
    while (state.appliedAbove.delete(state.lastChangeSeq + 1)) state.lastChangeSeq++;
  }

  private state(conversationId: string): ConversationState {
    let state = this.conversations.get(conversationId);
    if (!state) {
      state = { lastSeq: 0, lastChangeSeq: 0, appliedAbove: new Set(), bySeq: new Map() };
      this.conversations.set(conversationId, state);
    }
    return state;
  }

  private enqueue(task: () => Promise<void>): void {
    this.work = this.work.then(task).catch((error: Error) => {
      this.failure ??= error;
    });
  }

  private async get(path: string, query: Record<string, string | number>) {
    const response = await this.service.http().get(path).query(query).set(this.auth);
    if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }

  private get auth() {
    return { Authorization: `Bearer ${this.token}` };
  }
}
