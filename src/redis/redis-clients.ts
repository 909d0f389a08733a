import { Cluster, Redis, type ChainableCommander, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { AppConfig, RedisNode } from '../config/app-config.js';
import { REDIS_COMMAND_TIMEOUT_MS } from '../config/redis-timeout.js';

/** A connection to one Redis (REDIS_URL) or to a Redis Cluster (REDIS_CLUSTER_NODES). */
export type RedisClient = Redis | Cluster;

/** What the clients are built from. */
export type RedisSettings = Pick<AppConfig, 'redisUrl' | 'redisClusterNodes'>;

/** Whether instances share fan-out, presence, typing and rate limits through Redis. */
export function usesRedis(config: RedisSettings): boolean {
  return Boolean(config.redisUrl || config.redisClusterNodes);
}

/** Each command, on each connection (to each node of a cluster): one retry, a second at most. */
const COMMAND_OPTIONS = { maxRetriesPerRequest: 1, commandTimeout: REDIS_COMMAND_TIMEOUT_MS } satisfies RedisOptions;

/**
 * On a cluster the client learns the other nodes and which holds each slot from those given,
 * follows MOVED and ASK redirections, and after a failover finds the promoted replica. A
 * command to a node that has just gone is tried again after `retryDelayOnFailover` (100 ms)
 * with the slots read anew, up to `maxRedirections` times, so that it waits out at most about
 * 1.6 s of a failover rather than failing at once.
 */
const CLUSTER_OPTIONS = {
  enableOfflineQueue: false,
  retryDelayOnFailover: 100,
  maxRedirections: 16,
  redisOptions: COMMAND_OPTIONS,
} satisfies ClusterOptions;

/**
 * The one way Parley connects to Redis for commands (publishing, presence, typing, rate
 * limits): no offline queue, so that a command while Redis is unreachable fails at once
 * instead of piling up in memory, one retry and a second a command (REDIS_COMMAND_TIMEOUT_MS).
 * Callers treat a failure as Redis being down for that moment.
 */
export function createRedisClient(config: RedisSettings): RedisClient {
  if (config.redisClusterNodes) return new Cluster(config.redisClusterNodes, CLUSTER_OPTIONS);
  if (!config.redisUrl) throw new Error('neither REDIS_URL nor REDIS_CLUSTER_NODES is set');
  return new Redis(config.redisUrl, { enableOfflineQueue: false, ...COMMAND_OPTIONS });
}

/**
 * A subscriber to one Redis (REDIS_URL): it queues its commands while disconnected, reconnects
 * for ever and subscribes again to every channel by itself.
 */
export function createRedisSubscriber(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null });
}

/**
 * A sharded subscriber to one master of a cluster. It does not reconnect: when its node goes,
 * its channels are placed anew on whichever masters then hold their slots.
 */
export function createShardSubscriber(node: RedisNode): Redis {
  return new Redis({
    host: node.host,
    port: node.port,
    retryStrategy: () => null,
    autoResubscribe: false,
    maxRetriesPerRequest: null,
    connectTimeout: 2000,
  });
}

/**
 * Runs a pipeline, rejecting with the first command's failure: a pipeline that cannot be sent
 * resolves with each command's error rather than rejecting.
 */
export async function execAll(pipeline: ChainableCommander): Promise<void> {
  const results = await pipeline.exec();
  const failure = results?.find(([error]) => error)?.[0];
  if (failure) throw failure;
}
