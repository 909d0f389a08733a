import { ApiError, type Api, type Message } from './api.js';
import { randomId } from './dom.js';
import { Signal } from './signal.js';

/** A message of the user's own that the server has not confirmed yet. */
export interface PendingMessage {
  conversationId: string;
  clientMessageId: string;
  body: string;
  state: 'sending' | 'failed';
  error?: string;
  /** It failed for want of a connection: it is sent again by itself. */
  offline?: boolean;
  /** Failed sends so far, for the wait before the next one. */
  failures: number;
}

const FIRST_RESEND_DELAY_MS = 2_000;
const MAX_RESEND_DELAY_MS = 30_000;

/**
 * The user's messages that the server has not confirmed yet, for every conversation. They
 * belong to the session, not to a conversation's view: opening another conversation neither
 * drops nor stops them. Each keeps its clientMessageId, so however often it is sent it is
 * stored once. One that failed for want of a connection is sent again by itself, after a wait
 * that doubles up to 30 s, and at once when the socket is back (`resendOffline`), even while
 * the socket stayed up through the failure; any other failure (a 400, a 429) waits for the
 * user's Retry or Discard.
 */
export class Outbox {
  /** The pending messages of this conversation changed. */
  readonly changed = new Signal<string>();
  /** The server stored one of them: the message as it answered. */
  readonly delivered = new Signal<Message>();
  private readonly byConversation = new Map<string, PendingMessage[]>();
  private readonly resendTimers = new Map<PendingMessage, number>();
  private stopped = false;

  constructor(private readonly api: Api) {}

  in(conversationId: string): readonly PendingMessage[] {
    return this.byConversation.get(conversationId) ?? [];
  }

  all(): PendingMessage[] {
    return [...this.byConversation.values()].flat();
  }

  send(conversationId: string, body: string): void {
    const message: PendingMessage = { conversationId, clientMessageId: randomId(), body, state: 'sending', failures: 0 };
    this.byConversation.set(conversationId, [...this.in(conversationId), message]);
    this.changed.emit(conversationId);
    void this.deliver(message);
  }

  retry(conversationId: string, clientMessageId: string): void {
    const message = this.find(conversationId, clientMessageId);
    if (!message || message.state === 'sending') return;
    this.cancelResend(message);
    message.state = 'sending';
    message.error = undefined;
    message.offline = false;
    this.changed.emit(conversationId);
    void this.deliver(message);
  }

  /** The socket is back: whatever failed for want of a connection goes now. */
  resendOffline(): void {
    for (const messages of this.byConversation.values()) {
      for (const message of messages) if (message.state === 'failed' && message.offline) this.retry(message.conversationId, message.clientMessageId);
    }
  }

  discard(conversationId: string, clientMessageId: string): void {
    const message = this.find(conversationId, clientMessageId);
    if (message) this.remove(message);
  }

  /** One of the user's messages seen stored (its frame, a page of history): no longer pending. */
  confirmed(message: Message): void {
    const pending = message.clientMessageId ? this.find(message.conversationId, message.clientMessageId) : undefined;
    if (pending) this.remove(pending);
  }

  /** The session ended: no more sends. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.resendTimers.values()) window.clearTimeout(timer);
    this.resendTimers.clear();
  }

  private async deliver(message: PendingMessage): Promise<void> {
    try {
      const stored = await this.api.send(message.conversationId, message.body, message.clientMessageId);
      this.delivered.emit(stored);
      this.confirmed(stored);
    } catch (error) {
      // Discarded, or seen stored, while this send was under way.
      if (this.find(message.conversationId, message.clientMessageId) !== message) return;
      message.state = 'failed';
      message.error = error instanceof ApiError ? error.message : 'Could not send.';
      message.offline = error instanceof ApiError && error.isNetwork;
      message.failures++;
      if (message.offline && !this.stopped) {
        const delay = Math.min(MAX_RESEND_DELAY_MS, FIRST_RESEND_DELAY_MS * 2 ** (message.failures - 1));
        this.resendTimers.set(
          message,
          window.setTimeout(() => this.retry(message.conversationId, message.clientMessageId), delay),
        );
      }
      this.changed.emit(message.conversationId);
    }
  }

  private find(conversationId: string, clientMessageId: string): PendingMessage | undefined {
    return this.in(conversationId).find((message) => message.clientMessageId === clientMessageId);
  }

  private remove(message: PendingMessage): void {
    this.cancelResend(message);
    this.byConversation.set(
      message.conversationId,
      this.in(message.conversationId).filter((other) => other !== message),
    );
    this.changed.emit(message.conversationId);
  }

  private cancelResend(message: PendingMessage): void {
    window.clearTimeout(this.resendTimers.get(message));
    this.resendTimers.delete(message);
  }
}
