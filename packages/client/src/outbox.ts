import { Emitter } from './emitter.js';
import { ParleyError } from './errors.js';
import type { Message, ParleyApi } from './http.js';

export type PendingStatus = 'sending' | 'waiting' | 'failed' | 'sent';

/** One of the user's messages on its way: shown at once, confirmed when the server stores it. */
export interface PendingMessage {
  readonly clientMessageId: string;
  readonly conversationId: string;
  readonly body: string;
  /** The message it answers (a reply), if any. */
  readonly replyToId?: string;
  /** Uploaded attachments it carries (ids from `api.upload`), if any. */
  readonly attachmentIds?: readonly string[];
  /**
   * `sending` (a request is under way); `waiting` (the last attempt got no answer, a 5xx or a
   * 429: another goes by itself at `retryAt`, or as soon as the socket is back); `failed`
   * (refused with a 4xx: it goes again only if `retry` is called); `sent` (stored: `message`).
   */
  status: PendingStatus;
  error?: ParleyError;
  /** Attempts made so far. */
  attempts: number;
  /** While waiting: when the next attempt starts (ms since the epoch). */
  retryAt?: number;
  message?: Message;
  /** Resolves with the stored message; rejects only if the message is discarded or the client closed. */
  readonly sent: Promise<Message>;
}

export interface OutboxEvents extends Record<string, unknown> {
  /** A pending message changed status (or was discarded: it is no longer in `pending()`). */
  change: PendingMessage;
  /** The server stored a pending message: its answer, or its notification seen first. */
  sent: { pending: PendingMessage; message: Message };
}

interface Entry {
  pending: PendingMessage;
  resolve: (message: Message) => void;
  reject: (error: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
  /** The attempt under way, so a confirmation or discard meanwhile is not overwritten by it. */
  inFlight: boolean;
}

/** What a message may carry besides its text. */
export interface SendOptions {
  /** The idempotency key (default: a random one); the same key again is the same message. */
  clientMessageId?: string;
  /** Answers this message of the same conversation (a reply, in its thread). */
  replyToId?: string;
  /** Ids of the caller's uploads (`api.upload`), at most 10; the body may then be empty. */
  attachmentIds?: readonly string[];
}

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

/**
 * The user's messages that the server has not stored yet. Each keeps one `clientMessageId`
 * for all its attempts, so however often it is sent the server stores it once (the same id
 * again answers the original message). A send that got no answer, or a 5xx or 429, is tried
 * again by itself (after Retry-After where the server gave one, else a wait that doubles up
 * to 30 s, and at once when the socket comes back); one refused with any other 4xx waits for
 * `retry` or `discard`.
 */
export class Outbox extends Emitter<OutboxEvents> {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly api: ParleyApi) {
    super();
  }

  send(conversationId: string, body: string, options: SendOptions = {}): PendingMessage {
    const clientMessageId = options.clientMessageId ?? randomId();
    const existing = this.entries.get(clientMessageId);
    if (existing) return existing.pending;
    let resolve!: (message: Message) => void;
    let reject!: (error: Error) => void;
    const sent = new Promise<Message>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Nobody need wait for it: a discarded message is not an unhandled rejection.
    sent.catch(() => undefined);
    const pending: PendingMessage = {
      clientMessageId,
      conversationId,
      body,
      ...(options.replyToId !== undefined ? { replyToId: options.replyToId } : {}),
      ...(options.attachmentIds?.length ? { attachmentIds: [...options.attachmentIds] } : {}),
      status: 'sending',
      attempts: 0,
      sent,
    };
    const entry: Entry = { pending, resolve, reject, inFlight: false };
    this.entries.set(clientMessageId, entry);
    if (this.closed) {
      pending.status = 'failed';
      reject(new Error('The client is closed'));
    } else void this.attempt(entry);
    return pending;
  }

  /** Messages not yet stored, oldest first; those of one conversation if given. */
  pending(conversationId?: string): PendingMessage[] {
    const all = [...this.entries.values()].map((entry) => entry.pending);
    return conversationId === undefined ? all : all.filter((pending) => pending.conversationId === conversationId);
  }

  /** Sends a failed or waiting message again now, with the same clientMessageId. */
  retry(clientMessageId: string): void {
    const entry = this.entries.get(clientMessageId);
    if (!entry || entry.inFlight || this.closed) return;
    clearTimeout(entry.timer);
    void this.attempt(entry);
  }

  /** Sends every waiting message now (the connection is back). */
  flush(): void {
    for (const entry of this.entries.values()) if (entry.pending.status === 'waiting') this.retry(entry.pending.clientMessageId);
  }

  /** Gives up on a message: it is not sent again (an attempt under way may still store it). */
  discard(clientMessageId: string): void {
    const entry = this.entries.get(clientMessageId);
    if (!entry) return;
    this.remove(entry);
    entry.reject(new Error('Discarded'));
    this.emit('change', entry.pending);
  }

  /** A stored message seen (its notification, a page of history): if it was pending, it is sent. */
  confirm(message: Message): void {
    const entry = message.clientMessageId ? this.entries.get(message.clientMessageId) : undefined;
    if (entry && entry.pending.conversationId === message.conversationId) this.delivered(entry, message);
  }

  close(): void {
    this.closed = true;
    for (const entry of this.entries.values()) {
      clearTimeout(entry.timer);
      entry.reject(new Error('The client is closed'));
    }
  }

  private async attempt(entry: Entry): Promise<void> {
    const { pending } = entry;
    entry.inFlight = true;
    pending.status = 'sending';
    pending.attempts++;
    delete pending.retryAt;
    this.emit('change', pending);
    let message: Message;
    try {
      message = await this.api.sendMessage({
        conversationId: pending.conversationId,
        body: pending.body,
        clientMessageId: pending.clientMessageId,
        ...(pending.replyToId !== undefined ? { replyToId: pending.replyToId } : {}),
        ...(pending.attachmentIds ? { attachmentIds: [...pending.attachmentIds] } : {}),
      });
    } catch (error) {
      entry.inFlight = false;
      // Confirmed by its notification, or discarded, while this attempt was under way.
      if (this.entries.get(pending.clientMessageId) !== entry || this.closed) return;
      const failure = error instanceof ParleyError ? error : ParleyError.network(error);
      pending.error = failure;
      if (failure.isTransient) {
        const delay =
          failure.retryAfter !== undefined
            ? failure.retryAfter * 1000
            : jitter(Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (pending.attempts - 1)));
        pending.status = 'waiting';
        pending.retryAt = Date.now() + delay;
        entry.timer = setTimeout(() => this.retry(pending.clientMessageId), delay);
      } else {
        pending.status = 'failed';
      }
      this.emit('change', pending);
      return;
    }
    entry.inFlight = false;
    if (this.entries.get(pending.clientMessageId) === entry) this.delivered(entry, message);
  }

  private delivered(entry: Entry, message: Message): void {
    this.remove(entry);
    const { pending } = entry;
    pending.status = 'sent';
    pending.message = message;
    delete pending.error;
    delete pending.retryAt;
    entry.resolve(message);
    this.emit('change', pending);
    this.emit('sent', { pending, message });
  }

  private remove(entry: Entry): void {
    clearTimeout(entry.timer);
    this.entries.delete(entry.pending.clientMessageId);
  }
}

/** Full jitter over the upper half of the wait. */
function jitter(ms: number): number {
  return Math.round(ms / 2 + (Math.random() * ms) / 2);
}

/** A random id (crypto.randomUUID where there is one: secure contexts and Node). */
export function randomId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string; getRandomValues?: (array: Uint8Array) => Uint8Array } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto?.getRandomValues ? crypto.getRandomValues(new Uint8Array(16)) : Uint8Array.from({ length: 16 }, () => Math.floor(Math.random() * 256));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
