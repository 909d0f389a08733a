import { createRedisClient, type RedisClient, type RedisSettings } from '../redis/redis-clients.js';

export interface WindowCount {
  count: number;
  resetInMs: number;
}

/** Counts hits per key in fixed windows. */
export interface RateLimitStore {
  /**
   * Records a hit; returns the count in the current window and the ms until it resets, at once
   * where it can (in memory), so that the guard needs no promise.
   */
  hit(key: string, windowMs: number): WindowCount | Promise<WindowCount>;
  close(): Promise<void>;
}

/** One instance: counts in memory, sweeping expired windows as it goes. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private lastSweep = Date.now();

  hit(key: string, windowMs: number): WindowCount {
    const now = Date.now();
    if (now - this.lastSweep > 60_000) this.sweep(now);
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) this.windows.set(key, (window = { count: 0, resetAt: now + windowMs }));
    window.count++;
    return { count: window.count, resetInMs: window.resetAt - now };
  }

  async close(): Promise<void> {
    this.windows.clear();
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

/**
 * Several instances: one shared count per key in Redis (INCR, expiry set on the first hit). The
 * transaction touches that one key, so it runs on a Redis Cluster too, on the key's own shard.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly redis: RedisClient;

  constructor(config: RedisSettings, private readonly prefix: string) {
    this.redis = createRedisClient(config);
    this.redis.on('error', () => undefined);
  }

  async hit(key: string, windowMs: number) {
    const fullKey = `${this.prefix}:rl:${key}`;
    const results = await this.redis.multi().incr(fullKey).pexpire(fullKey, windowMs, 'NX').pttl(fullKey).exec();
    if (!results) throw new Error('rate limit transaction aborted');
    const count = results[0][1] as number;
    const ttl = results[2][1] as number;
    return { count, resetInMs: ttl > 0 ? ttl : windowMs };
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
