import type { ServerFrame } from './frames.js';

/**
 * Delivers frames to users' open connections. Services publish here only after their write
 * has committed. `LocalNotifier` serves one instance; `RedisNotifier` carries the same calls
 * across instances. The gateway and the services do not know which one they have.
 */
export abstract class Notifier {
  private readonly conversationListeners: ((conversationId: string) => void)[] = [];
  private readonly publishListeners: ((userIds: readonly string[], frame: ServerFrame) => void)[] = [];
  private readonly reachListeners: ((frame: ServerFrame) => void)[] = [];

  /** Sends `frame` to every open connection of each user in `userIds`, wherever it is held. */
  abstract publish(userIds: readonly string[], frame: ServerFrame): void;

  /**
   * `listener` hears, on this instance and before the frame goes out, of every
   * `conversation.updated` published here: a conversation was created or its members changed,
   * and that change has committed. The typing path's membership cache is invalidated so,
   * whichever service made the change.
   */
  onConversationUpdated(listener: (conversationId: string) => void): void {
    this.conversationListeners.push(listener);
  }

  /**
   * `listener` hears of every frame published on this instance, with its users (the webhooks
   * of bots among them get it too). It must return at once: publishing is on the request path.
   */
  onPublish(listener: (userIds: readonly string[], frame: ServerFrame) => void): void {
    this.publishListeners.push(listener);
  }

  /**
   * `listener` hears of every frame published on this instance once it has reached every
   * instance that may hold its users' connections: at once in one process; with Redis, once
   * Redis took it. A frame Redis did not take is never reported (the fan-out outbox keeps its
   * message's row then, and the frame is relayed).
   */
  onReached(listener: (frame: ServerFrame) => void): void {
    this.reachListeners.push(listener);
  }

  /** Implementations call this once a published frame has reached every instance. */
  protected reached(frame: ServerFrame): void {
    for (const listener of this.reachListeners) listener(frame);
  }

  /** Implementations call this first in `publish`. */
  protected beforePublish(userIds: readonly string[], frame: ServerFrame): void {
    for (const listener of this.publishListeners) listener(userIds, frame);
    if (frame.type !== 'conversation.updated') return;
    for (const listener of this.conversationListeners) listener(frame.conversationId);
  }

  /** Closes every open connection of `userId` with `code`, on every instance (deactivation). */
  abstract disconnectUser(userId: string, code: number, reason: string): void;

  /**
   * Closes the open connections of one of `userId`'s sessions with `code`, on every instance
   * (logout, a revoked session, a replayed refresh token).
   */
  abstract disconnectSession(userId: string, sessionId: string, code: number, reason: string): void;

  /**
   * Called when this instance opens its first connection for `userId`; resolves once frames
   * published for that user anywhere will reach this instance.
   */
  async watch(_userId: string): Promise<void> {}

  /** Called when this instance has closed its last connection for `userId`. */
  unwatch(_userId: string): void {}

  /**
   * Set by the gateway; called when the transport is back after an outage (RedisNotifier), when
   * frames published meanwhile, deactivations among them, may never have arrived.
   */
  onRestored?: () => void;

  /** Whether the notifier's transport is up (always, for the in-process one). */
  async isHealthy(): Promise<boolean> {
    return true;
  }
}
