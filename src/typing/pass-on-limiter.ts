/**
 * In-memory pass-on limits: a key passes at most once per interval. It stands alone with one
 * instance (or while Redis is down), and in front of Redis with several: a key it knows to be
 * blocked is refused without asking Redis, so a client repeating a frame costs Redis nothing.
 */
export class PassOnLimiter {
  private readonly blockedUntil = new Map<string, number>();
  private lastSweep = Date.now();

  constructor(private readonly intervalMs: number) {}

  /** Whether `key` is known to be blocked at `now`. */
  blocked(key: string, now = Date.now()): boolean {
    return (this.blockedUntil.get(key) ?? 0) > now;
  }

  /** Passes `key` if it is not blocked, and then blocks it for the interval. */
  tryPass(key: string, now = Date.now()): boolean {
    if (this.blocked(key, now)) return false;
    this.block(key, now + this.intervalMs, now);
    return true;
  }

  /** Blocks `key` until `until` (as another instance, through Redis, has passed it). */
  block(key: string, until: number, now = Date.now()): void {
    if (now - this.lastSweep > 10 * this.intervalMs) this.sweep(now);
    this.blockedUntil.set(key, until);
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, until] of this.blockedUntil) if (until <= now) this.blockedUntil.delete(key);
  }
}
