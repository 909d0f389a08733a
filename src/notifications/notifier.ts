import type { ServerFrame } from './frames.js';

/**
 * Delivers frames to users' open connections. Services publish here only after their write
 * has committed. The in-process implementation serves one instance; a Redis-backed one
 * carries the same calls across instances. The gateway does not know which it has.
 */
export abstract class Notifier {
  /** Sends `frame` to every open connection of each user in `userIds`. */
  abstract publish(userIds: readonly string[], frame: ServerFrame): void;

  /** Closes every open connection of `userId` with `code` (deactivation). */
  abstract disconnectUser(userId: string, code: number, reason: string): void;
}
