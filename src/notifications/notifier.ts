import type { ServerFrame } from './frames.js';

/**
 * Delivers frames to users' open connections. Services publish here only after their write
 * has committed. `LocalNotifier` serves one instance; `RedisNotifier` carries the same calls
 * across instances. The gateway and the services do not know which one they have.
 */
export abstract class Notifier {
  /** Sends `frame` to every open connection of each user in `userIds`, wherever it is held. */
  abstract publish(userIds: readonly string[], frame: ServerFrame): void;

  /** Closes every open connection of `userId` with `code`, on every instance (deactivation). */
  abstract disconnectUser(userId: string, code: number, reason: string): void;

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
