import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { OutageLog } from '../common/outage-log.js';
import { createRedisClient, type RedisClient } from '../redis/redis-clients.js';
import type { AppConfig } from '../config/app-config.js';
import { PresenceStore, sweepInterval, type LivePresence } from './presence-store.js';

/** An instance silent for this many heartbeats is taken for dead. */
export const HEARTBEATS_TO_EXPIRY = 3;
/** Offline users announced by one sweep at most; the rest wait for the next. */
const SWEEP_LIMIT = 1000;
/** Dead instances reaped by one sweep at most. */
const REAP_LIMIT = 4;
/**
 * After an outage, how long to wait once this instance's fan-out is back before setting the
 * counts again (which announces who came online meanwhile): other instances' subscriptions come
 * back within ioredis's reconnect interval (at most 2 s), and an announcement made before they
 * are back would not reach their users.
 */
const RESTORE_SETTLE_MS = 2000;
/** How long to wait at most for this instance's fan-out before setting the counts anyway. */
const RESTORE_WAIT_MS = 10_000;

// Every script reads the time from Redis, so that instances whose clocks differ agree on it.
const NOW = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)`;

/**
 * A socket of ARGV[2] on instance ARGV[1] became ready. Returns -1 if the instance is not
 * registered (reaped, or Redis restarted: it must sync), the time if the user came online, else 0.
 * KEYS: instances, online, grace, this instance's sockets.
 */
const OPEN_SCRIPT = `${NOW}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
if redis.call('HINCRBY', KEYS[4], ARGV[2], 1) ~= 1 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) ~= 1 then return 0 end
if redis.call('ZREM', KEYS[3], ARGV[2]) == 1 then return 0 end
return now`;

/**
 * A ready socket of ARGV[2] on instance ARGV[1] went. When it was the user's last anywhere, the
 * user enters its grace of ARGV[3] ms. Returns -1 if the instance is not registered, else 0.
 * KEYS: instances, online, grace, last seen, this instance's sockets.
 */
const CLOSE_SCRIPT = `${NOW}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
local count = redis.call('HINCRBY', KEYS[5], ARGV[2], -1)
if count > 0 then return 0 end
redis.call('HDEL', KEYS[5], ARGV[2])
if count < 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[2], -1) > 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[2])
redis.call('HSET', KEYS[4], ARGV[2], now)
return 0`;

/** Instance ARGV[1] is alive for ARGV[2] ms more; -1 if it is not registered. KEYS: instances, its sockets. */
const HEARTBEAT_SCRIPT = `${NOW}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ${10} * tonumber(ARGV[2]))
return 1`;

/**
 * Makes Redis hold exactly this instance's socket counts (ARGV[5..]: user, count, user, count…)
 * and registers it (ARGV[4] 'join'), or takes them all off and unregisters it ('leave'). Users
 * it adds who were offline came online; users it takes off who are held nowhere else enter
 * their grace. Returns {now, users who came online}.
 * KEYS: instances, online, grace, last seen, this instance's sockets. ARGV[2] grace, ARGV[3] expiry.
 */
const SYNC_SCRIPT = `${NOW}
local graceMs, expiryMs = tonumber(ARGV[2]), tonumber(ARGV[3])
local had = {}
-- An instance not registered was reaped: its counts were taken off then.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local old = redis.call('HGETALL', KEYS[5])
  for i = 1, #old, 2 do
    if tonumber(old[i + 1]) > 0 then had[old[i]] = true end
  end
end
redis.call('DEL', KEYS[5])
local has, cameOnline = {}, {}
for i = 5, #ARGV, 2 do
  local user = ARGV[i]
  has[user] = true
  redis.call('HSET', KEYS[5], user, ARGV[i + 1])
  if not had[user] and redis.call('HINCRBY', KEYS[2], user, 1) == 1 and redis.call('ZREM', KEYS[3], user) == 0 then
    table.insert(cameOnline, user)
  end
end
for user in pairs(had) do
  if not has[user] and redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
    redis.call('HDEL', KEYS[2], user)
    redis.call('ZADD', KEYS[3], now + graceMs, user)
    redis.call('HSET', KEYS[4], user, now)
  end
end
if ARGV[4] == 'leave' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now + expiryMs, ARGV[1])
  redis.call('PEXPIRE', KEYS[5], 10 * expiryMs)
end
return {now, cameOnline}`;

/**
 * Reaps instances whose heartbeat expired (their users held nowhere else enter their grace,
 * counted from the instance's last heartbeat) and claims the users whose grace is over, so that
 * each is announced offline by exactly one instance. Returns {user, last seen ms, …}.
 * KEYS: instances, online, grace, last seen. ARGV: the keys' common part (`{<prefix>:presence}`,
 * which names a reaped instance's sockets), grace, expiry, limit.
 */
const SWEEP_SCRIPT = `${NOW}
local graceMs, expiryMs = tonumber(ARGV[2]), tonumber(ARGV[3])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, ${REAP_LIMIT})
for i = 1, #dead, 2 do
  local instance = dead[i]
  local lastBeat = tonumber(dead[i + 1]) - expiryMs
  local sockets = ARGV[1] .. ':sockets:' .. instance
  local counts = redis.call('HGETALL', sockets)
  for j = 1, #counts, 2 do
    local user = counts[j]
    if tonumber(counts[j + 1]) > 0 and redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
      redis.call('HDEL', KEYS[2], user)
      redis.call('ZADD', KEYS[3], lastBeat + graceMs, user)
      redis.call('HSET', KEYS[4], user, lastBeat)
    end
  end
  redis.call('DEL', sockets)
  redis.call('ZREM', KEYS[1], instance)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local claimed = {}
for _, user in ipairs(due) do
  redis.call('ZREM', KEYS[3], user)
  table.insert(claimed, user)
  table.insert(claimed, redis.call('HGET', KEYS[4], user) or tostring(now))
end
return claimed`;

/**
 * What every presence key starts with: a hash tag, so that on a Redis Cluster they all share
 * one slot (the scripts read and write several at once), named after REDIS_CHANNEL_PREFIX.
 */
export function presenceKeyBase(prefix: string): string {
  return `{${prefix}:presence}`;
}

type Scripts = {
  presenceOpen(instances: string, online: string, grace: string, sockets: string, instance: string, userId: string): Promise<number>;
  presenceClose(instances: string, online: string, grace: string, lastSeen: string, sockets: string, instance: string, userId: string, graceMs: number): Promise<number>;
  presenceHeartbeat(instances: string, sockets: string, instance: string, expiryMs: number): Promise<number>;
  presenceSync(...args: (string | number)[]): Promise<[number, string[]]>;
  presenceSweep(instances: string, online: string, grace: string, lastSeen: string, base: string, graceMs: number, expiryMs: number, limit: number): Promise<string[]>;
};

/**
 * Presence across instances, kept in Redis under `{<prefix>:presence}:`: one hash tag, so that
 * on a Redis Cluster every key lies in one slot, as the scripts that use several at once need:
 *
 * - `instances`: a sorted set of live instances, scored by when each expires (3 heartbeats on);
 * - `sockets:<instance>`: each instance's count of ready sockets per user;
 * - `online`: per user, how many live instances hold a socket of it;
 * - `grace`: users whose last socket closed, scored by when `offline` is due;
 * - `last-seen`: when each user's last socket closed.
 *
 * Every change is one Lua script, so the instance whose script sees a user's count go from 0
 * to 1 (not back within its grace) is the one that announces `online`, and the instance whose
 * sweep claims a user from `grace` is the one that announces `offline`: once each, however many
 * instances there are. The local counts are the truth: after Redis comes back (or forgot this
 * instance, or reaped it after a long pause), one script sets them again and announces what
 * changed meanwhile.
 */
export class RedisPresenceStore extends PresenceStore implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisPresenceStore.name);
  private readonly redis: RedisClient & Scripts;
  readonly instanceId = randomUUID();
  /** `{<prefix>:presence}`, REDIS_CHANNEL_PREFIX's: the sweep names reaped instances' keys with it. */
  private readonly base: string;
  private readonly keys: { instances: string; online: string; grace: string; lastSeen: string; sockets: string };
  /** This instance's ready sockets per user: what Redis must hold for it. */
  private readonly counts = new Map<string, number>();
  /** Whether Redis holds `counts` (each change since was sent after the last sync). */
  private synced = false;
  private syncing?: Promise<void>;
  private syncAgain = false;
  private stopping = false;
  /** Set while Redis was lost; the sync that follows waits for the fan-out (see RESTORE_SETTLE_MS). */
  private lost = false;
  /** No sync before this time (ms), but the one the restore runs. */
  private holdSyncUntil = 0;
  private readonly expiryMs: number;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly sweep: NodeJS.Timeout;
  private readonly outage = new OutageLog(this.logger, {
    down: 'Redis unreachable for presence: changes are kept on this instance and set again when it is back',
    stillDown: 'Redis still unreachable for presence',
    back: 'Redis reachable for presence again',
  });

  constructor(
    config: AppConfig,
    /** Whether frames published now reach the other instances (the Notifier's health). */
    private readonly deliverable: () => Promise<boolean> = async () => true,
    private readonly graceMs = config.presenceOfflineGraceMs,
    heartbeatMs = config.presenceHeartbeatMs,
  ) {
    super();
    const base = (this.base = presenceKeyBase(config.redisChannelPrefix));
    this.keys = {
      instances: `${base}:instances`,
      online: `${base}:online`,
      grace: `${base}:grace`,
      lastSeen: `${base}:last-seen`,
      sockets: `${base}:sockets:${this.instanceId}`,
    };
    this.expiryMs = HEARTBEATS_TO_EXPIRY * heartbeatMs;
    this.redis = createRedisClient(config) as RedisClient & Scripts;
    this.redis.defineCommand('presenceOpen', { numberOfKeys: 4, lua: OPEN_SCRIPT });
    this.redis.defineCommand('presenceClose', { numberOfKeys: 5, lua: CLOSE_SCRIPT });
    this.redis.defineCommand('presenceHeartbeat', { numberOfKeys: 2, lua: HEARTBEAT_SCRIPT });
    this.redis.defineCommand('presenceSync', { numberOfKeys: 5, lua: SYNC_SCRIPT });
    this.redis.defineCommand('presenceSweep', { numberOfKeys: 4, lua: SWEEP_SCRIPT });
    this.redis.on('error', (error) => this.failed(error));
    this.redis.on('close', () => {
      this.synced = false;
      this.lost = true;
    });
    this.redis.on('ready', () => void (this.lost ? this.restore() : this.sync()));
    this.heartbeat = setInterval(() => void this.beat(), heartbeatMs);
    this.heartbeat.unref();
    this.sweep = setInterval(() => void this.claimDue(), sweepInterval(graceMs));
    this.sweep.unref();
  }

  socketOpened(userId: string): void {
    this.counts.set(userId, (this.counts.get(userId) ?? 0) + 1);
    // Not in step with Redis: the next sync carries it.
    if (!this.synced || this.stopping) return;
    const { instances, online, grace, sockets } = this.keys;
    this.redis.presenceOpen(instances, online, grace, sockets, this.instanceId, userId).then((result) => {
      if (result < 0) void this.resync();
      else if (result > 0) this.onTransition(userId, 'online', result);
    }, (error: Error) => this.failed(error));
  }

  socketClosed(userId: string): void {
    const count = (this.counts.get(userId) ?? 0) - 1;
    if (count > 0) this.counts.set(userId, count);
    else this.counts.delete(userId);
    if (!this.synced || this.stopping) return;
    const { instances, online, grace, lastSeen, sockets } = this.keys;
    this.redis.presenceClose(instances, online, grace, lastSeen, sockets, this.instanceId, userId, this.graceMs).then((result) => {
      if (result < 0) void this.resync();
    }, (error: Error) => this.failed(error));
  }

  async lookup(userIds: readonly string[]): Promise<Map<string, LivePresence>> {
    const found = new Map<string, LivePresence>();
    if (userIds.length === 0) return found;
    try {
      const results = await this.redis
        .pipeline()
        .hmget(this.keys.online, ...userIds)
        .zmscore(this.keys.grace, ...userIds)
        .hmget(this.keys.lastSeen, ...userIds)
        .exec();
      const failure = results?.find(([error]) => error)?.[0];
      if (!results || failure) throw failure ?? new Error('presence lookup failed');
      const [online, inGrace, lastSeen] = results.map(([, value]) => value as (string | null)[]);
      userIds.forEach((userId, i) => {
        found.set(userId, {
          // A socket here counts even before Redis has heard of it (a sync under way).
          online: Number(online[i] ?? 0) > 0 || inGrace[i] !== null || this.counts.has(userId),
          lastSeenAtMs: lastSeen[i] === null ? null : Number(lastSeen[i]),
        });
      });
    } catch (error) {
      this.failed(error as Error);
      // Without Redis this instance knows its own sockets only.
      for (const userId of userIds) found.set(userId, { online: this.counts.has(userId), lastSeenAtMs: null });
    }
    return found;
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.sweep);
    this.stopping = true;
    // Its users held nowhere else enter their grace now, rather than when the instance expires:
    // clients that reconnect to another instance within it never show as offline.
    try {
      await this.syncing;
      if (this.redis.status === 'ready') await this.runSync('leave');
    } catch (error) {
      this.logger.warn(`Could not take this instance's sockets off presence: ${(error as Error).message}`);
    }
    this.redis.disconnect();
  }

  /** Sets this instance's counts in Redis again; changes made while it runs are sent after it. */
  private sync(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    // Opens and closes sent from now on reach Redis after the sync, on the same connection.
    this.synced = true;
    this.syncing = this.runSync('join')
      .then(
        ([now, cameOnline]) => {
          this.outage.succeeded();
          for (const userId of cameOnline) this.onTransition(userId, 'online', now);
        },
        (error: Error) => this.failed(error),
      )
      .finally(() => {
        this.syncing = undefined;
        if (this.syncAgain) {
          this.syncAgain = false;
          void this.sync();
        }
      });
    return this.syncing;
  }

  private runSync(mode: 'join' | 'leave'): Promise<[number, string[]]> {
    const { instances, online, grace, lastSeen, sockets } = this.keys;
    const entries = mode === 'join' ? [...this.counts].flatMap(([userId, count]) => [userId, count]) : [];
    return this.redis.presenceSync(instances, online, grace, lastSeen, sockets, this.instanceId, this.graceMs, this.expiryMs, mode, ...entries);
  }

  /**
   * Back after losing Redis: the counts are set again once this instance's fan-out works and
   * the other instances' has had time to, so that who came online meanwhile is announced to
   * everyone (clients also read presence again on `resync`).
   */
  private async restore(): Promise<void> {
    this.lost = false;
    const deadline = Date.now() + RESTORE_WAIT_MS;
    this.holdSyncUntil = deadline + RESTORE_SETTLE_MS;
    // Unreferenced: a restore under way must not hold up the process's exit.
    while (Date.now() < deadline && !(await this.deliverable().catch(() => false))) await sleep(250, undefined, { ref: false });
    await sleep(RESTORE_SETTLE_MS, undefined, { ref: false });
    this.holdSyncUntil = 0;
    if (this.redis.status === 'ready') await this.sync();
  }

  private resync(): Promise<void> {
    this.synced = false;
    return this.sync();
  }

  private async beat(): Promise<void> {
    if (this.stopping || this.redis.status !== 'ready' || Date.now() < this.holdSyncUntil) return;
    if (!this.synced) return void (await this.sync());
    try {
      const result = await this.redis.presenceHeartbeat(this.keys.instances, this.keys.sockets, this.instanceId, this.expiryMs);
      if (result < 0) await this.resync();
    } catch (error) {
      this.failed(error as Error);
    }
  }

  private async claimDue(): Promise<void> {
    if (this.stopping || this.redis.status !== 'ready') return;
    if (!this.synced && Date.now() >= this.holdSyncUntil) void this.sync();
    try {
      const { instances, online, grace, lastSeen } = this.keys;
      const claimed = await this.redis.presenceSweep(instances, online, grace, lastSeen, this.base, this.graceMs, this.expiryMs, SWEEP_LIMIT);
      for (let i = 0; i < claimed.length; i += 2) this.onTransition(claimed[i], 'offline', Number(claimed[i + 1]));
    } catch (error) {
      this.failed(error as Error);
    }
  }

  /** Anything that failed may have left Redis behind this instance: the next sync sets it right. */
  private failed(error: Error): void {
    this.synced = false;
    this.outage.failed(error.message);
  }
}
