/**
 * Which users this instance has handed which new messages to, in the last 5–10 seconds: a
 * message's frame may come twice, from its sender's instance and from the outbox relay (that
 * instance was slow to clear its outbox row, or died after publishing and before clearing it),
 * and each connection must get it once. Two generations of keys, the older dropped every
 * `GENERATION_MS`, bound the memory by the delivery rate without a timer.
 */
export class DeliveredOnce {
  private current = new Set<string>();
  private previous = new Set<string>();
  private rotatedAt = performance.now();

  /** True the first time for this user and message; false for a repeat within the window. */
  first(userId: string, messageId: string): boolean {
    const now = performance.now();
    if (now - this.rotatedAt >= GENERATION_MS) {
      this.previous = now - this.rotatedAt >= 2 * GENERATION_MS ? new Set() : this.current;
      this.current = new Set();
      this.rotatedAt = now;
    }
    const key = `${userId}:${messageId}`;
    if (this.current.has(key) || this.previous.has(key)) return false;
    this.current.add(key);
    return true;
  }
}

/** Longer than the relay takes to act on an outbox row its sender left (FanoutRelay). */
export const GENERATION_MS = 5_000;
