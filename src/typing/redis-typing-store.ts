import { randomUUID } from 'node:crypto';
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { OutageLog } from '../common/outage-log.js';
import { createRedisClient, type RedisClient } from '../redis/redis-clients.js';
import type { AppConfig } from '../config/app-config.js';
import { PassOnLimiter } from './pass-on-limiter.js';
import { TYPING_INTERVAL_MS, TypingStore, type Admission } from './typing-store.js';

/**
 * One round trip per admitted frame: the pass-on limit (`SET NX PX`, shared by every instance,
 * so a user typing on two devices held by two instances is still limited once) and the
 * conversation's membership version. A refused frame learns how long the limit still holds.
 */
const ADMIT_SCRIPT = `
local admitted = redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1])
local version = redis.call('GET', KEYS[2]) or ''
if admitted then return {1, version, 0} end
return {0, version, redis.call('PTTL', KEYS[1])}`;

/**
 * A membership version outlives by far any cached member list (a minute), so a version key
 * that expires and is set again can never match a list read before.
 */
const VERSION_TTL_MS = 24 * 3600 * 1000;

/**
 * Several instances: `<prefix>:typing:<userId>:{<conversationId>}` holds the pass-on limit and
 * `<prefix>:members:{<conversationId>}` a random version of the conversation's membership, set
 * anew on each change. The conversation is their hash tag: on a Redis Cluster both keys of a
 * signal lie in one slot, as the script that reads them together needs, and conversations
 * spread over the shards. When Redis cannot be reached, typing degrades to this instance alone:
 * the limit is kept in memory and member lists are read from the database; versions that could
 * not be set are set once Redis is back, and the cached lists are dropped then.
 */
export class RedisTypingStore extends TypingStore implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisTypingStore.name);
  private readonly redis: RedisClient & { admitTyping(limitKey: string, versionKey: string, intervalMs: number): Promise<[number, string, number]> };
  private readonly limiter = new PassOnLimiter(TYPING_INTERVAL_MS);
  /** Conversations whose version could not be moved while Redis was down. */
  private readonly unsentChanges = new Set<string>();
  private outage = false;
  private readonly outageLog = new OutageLog(this.logger, {
    down: 'Redis unreachable for typing: limits kept on this instance alone, members read from the database',
    stillDown: 'Redis still unreachable for typing',
    back: 'Redis reachable for typing again',
  });

  constructor(
    config: AppConfig,
    private readonly prefix = config.redisChannelPrefix,
  ) {
    super();
    this.redis = createRedisClient(config) as RedisTypingStore['redis'];
    this.redis.defineCommand('admitTyping', { numberOfKeys: 2, lua: ADMIT_SCRIPT });
    this.redis.on('error', (error) => this.failed(error));
    // A connection that drops may report no error; the next one's `ready` must still reset.
    this.redis.on('close', () => (this.outage = true));
    this.redis.on('ready', () => this.restored());
  }

  async admit(userId: string, conversationId: string, needVersion: boolean): Promise<Admission> {
    const key = `${userId}:${conversationId}`;
    const now = Date.now();
    if (!needVersion && this.limiter.blocked(key, now)) return { admitted: false, membershipVersion: null };
    try {
      const [admitted, version, remainingMs] = await this.redis.admitTyping(
        `${this.prefix}:typing:${userId}:{${conversationId}}`,
        this.versionKey(conversationId),
        TYPING_INTERVAL_MS,
      );
      this.limiter.block(key, admitted === 1 ? now + TYPING_INTERVAL_MS : now + Math.max(0, remainingMs), now);
      // A command that timed out is an outage too, and its connection never reports `ready`.
      if (this.outage) this.restored();
      return { admitted: admitted === 1, membershipVersion: version };
    } catch (error) {
      this.failed(error as Error);
      return { admitted: this.limiter.tryPass(key, now), membershipVersion: null };
    }
  }

  membershipChanged(conversationId: string): void {
    this.redis.set(this.versionKey(conversationId), randomUUID(), 'PX', VERSION_TTL_MS).catch((error: Error) => {
      this.unsentChanges.add(conversationId);
      this.failed(error);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.redis.disconnect();
  }

  private versionKey(conversationId: string): string {
    return `${this.prefix}:members:{${conversationId}}`;
  }

  private failed(error: Error): void {
    this.outage = true;
    this.outageLog.failed(error.message);
  }

  private restored(): void {
    if (!this.outage) return;
    this.outage = false;
    this.outageLog.succeeded();
    // Changes made meanwhile on other instances may not have reached Redis yet either; theirs
    // are sent when they reconnect, and cached lists are at most a minute old in any case.
    this.onReset?.();
    for (const conversationId of [...this.unsentChanges]) {
      this.unsentChanges.delete(conversationId);
      this.membershipChanged(conversationId);
    }
  }
}
