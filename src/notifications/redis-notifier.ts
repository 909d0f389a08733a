import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { ConnectionRegistry, newMessageOf } from './connection-registry.js';
import type { ServerFrame } from './frames.js';
import { Notifier } from './notifier.js';
import type { RedisSettings } from '../redis/redis-clients.js';
import { ChannelPubSub } from './channel-pubsub.js';
import type { PubSubEvents, PubSubTransport } from './pubsub-transport.js';
import { ShardedPubSub } from './sharded-pubsub.js';

/**
 * Fan-out across instances through Redis pub/sub, one channel per user (`<prefix>:u:<id>`).
 * An instance subscribes only to the users it holds sockets for, so it receives only the
 * frames it will deliver, not every event of the installation. Publishing to N users costs N
 * pipelined PUBLISHes; a user held nowhere costs Redis one lookup. On a Redis Cluster
 * (REDIS_CLUSTER_NODES) the same channels are sharded (SPUBLISH/SSUBSCRIBE), each on the shard
 * that holds its slot: the transport (channel-pubsub.ts, sharded-pubsub.ts) is all that differs.
 *
 * Payloads are `<origin instance id>|<new message id>|<frame JSON>` (or `…||close:<code>:<reason>`,
 * or `…||close-session:<session id>:<code>:<reason>`), so a receiver routes a frame without
 * parsing it; the message id, given for a `message.created` frame only, lets it hand each user
 * a new message once (ConnectionRegistry.deliverSerialized). The publishing instance delivers
 * to its own sockets directly and skips its own echo, so users on the same instance are still notified
 * while Redis is down. When the subscriptions come back after an outage (on a cluster, after
 * losing any shard), every local socket gets `{"type":"resync"}`: it may have missed frames,
 * and catches up by seq.
 */
@Injectable()
export class RedisNotifier extends Notifier implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisNotifier.name);
  private readonly instanceId = randomUUID();
  private readonly transport: PubSubTransport;
  private readonly watched = new Map<string, Promise<void>>();
  private readonly prefix: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly connections: ConnectionRegistry,
  ) {
    super();
    this.prefix = `${config.redisChannelPrefix}:u:`;
    this.transport = createPubSub(config, this.logger, {
      message: (channel, payload) => this.receive(channel, payload),
      restored: () => this.restored(),
    });
  }

  publish(userIds: readonly string[], frame: ServerFrame): void {
    this.beforePublish(userIds, frame);
    const data = JSON.stringify(frame);
    const encoded = Buffer.from(data);
    const newMessageId = newMessageOf(frame);
    for (const userId of userIds) this.connections.deliverSerialized(userId, encoded, newMessageId);
    void this.send(userIds, `${this.instanceId}|${newMessageId ?? ''}|${data}`).then((tookIt) => tookIt && this.reached(frame));
  }

  disconnectUser(userId: string, code: number, reason: string): void {
    this.connections.disconnect(userId, code, reason);
    this.send([userId], `${this.instanceId}||close:${code}:${reason}`);
  }

  disconnectSession(userId: string, sessionId: string, code: number, reason: string): void {
    this.connections.disconnectSession(userId, sessionId, code, reason);
    // On the user's channel: the instances holding the session's sockets subscribe to it.
    this.send([userId], `${this.instanceId}||close-session:${sessionId}:${code}:${reason}`);
  }

  override watch(userId: string): Promise<void> {
    let subscribed = this.watched.get(userId);
    if (!subscribed) {
      subscribed = this.transport.subscribe(this.prefix + userId);
      // A failed subscribe is retried by the transport; keep the entry so it is undone later.
      subscribed.catch(() => undefined);
      this.watched.set(userId, subscribed);
    }
    return subscribed;
  }

  override unwatch(userId: string): void {
    if (!this.watched.delete(userId)) return;
    this.transport.unsubscribe(this.prefix + userId);
  }

  override isHealthy(): Promise<boolean> {
    return this.transport.isHealthy();
  }

  async onApplicationShutdown(): Promise<void> {
    this.transport.close();
  }

  /** Publishes `payload` to the users' channels; whether Redis took it (see PubSubTransport.publish). */
  private send(userIds: readonly string[], payload: string): Promise<boolean> {
    if (userIds.length === 0) return Promise.resolve(true);
    return this.transport.publish(userIds.map((userId) => this.prefix + userId), payload);
  }

  /** Subscriptions were lost and are back: frames published meanwhile may never have arrived. */
  private restored(): void {
    this.logger.log('Redis subscription restored; asking local clients to resync');
    this.connections.broadcast({ type: 'resync' });
    this.onRestored?.();
  }

  private receive(channel: string, payload: string): void {
    const originEnd = payload.indexOf('|');
    if (payload.slice(0, originEnd) === this.instanceId) return;
    const userId = channel.slice(this.prefix.length);
    let body = payload.slice(originEnd + 1);
    let newMessageId: string | undefined;
    // An instance of the version before, in a rolling upgrade, sends no message id field.
    if (!body.startsWith('{') && !body.startsWith('close')) {
      const idEnd = body.indexOf('|');
      newMessageId = body.slice(0, idEnd) || undefined;
      body = body.slice(idEnd + 1);
    }
    if (body.startsWith('{')) {
      this.connections.deliverSerialized(userId, body, newMessageId);
    } else if (body.startsWith('close-session:')) {
      const [, sessionId, code, ...reason] = body.split(':');
      this.connections.disconnectSession(userId, sessionId, Number(code), reason.join(':'));
    } else if (body.startsWith('close:')) {
      const [, code, ...reason] = body.split(':');
      this.connections.disconnect(userId, Number(code), reason.join(':'));
    }
  }
}

/** The transport of the configuration: REDIS_CLUSTER_NODES or REDIS_URL. */
function createPubSub(config: RedisSettings, logger: Pick<Logger, 'warn' | 'log'>, events: PubSubEvents): PubSubTransport {
  return config.redisClusterNodes ? new ShardedPubSub(config, logger, events) : new ChannelPubSub(config, logger, events);
}
