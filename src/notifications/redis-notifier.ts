import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { OutageLog } from '../common/outage-log.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { REDIS_COMMAND_TIMEOUT_MS } from '../config/redis-timeout.js';
import { ConnectionRegistry, newMessageOf } from './connection-registry.js';
import type { ServerFrame } from './frames.js';
import { Notifier } from './notifier.js';

/**
 * Fan-out across instances through Redis pub/sub, one channel per user (`<prefix>:u:<id>`).
 * An instance subscribes only to the users it holds sockets for, so it receives only the
 * frames it will deliver, not every event of the installation. Publishing to N users costs N
 * pipelined PUBLISHes; a user held nowhere costs Redis one lookup.
 *
 * Payloads are `<origin instance id>|<new message id>|<frame JSON>` (or `…||close:<code>:<reason>`,
 * or `…||close-session:<session id>:<code>:<reason>`), so a receiver routes a frame without
 * parsing it; the message id, given for a `message.created` frame only, lets it hand each user
 * a new message once (ConnectionRegistry.deliverSerialized). The publishing instance delivers to its own
 * sockets directly and skips its own echo, so users on the same instance are still notified
 * while Redis is down. When the subscription comes back after an outage, every local socket
 * gets `{"type":"resync"}`: it may have missed frames, and catches up by seq.
 */
@Injectable()
export class RedisNotifier extends Notifier implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisNotifier.name);
  private readonly instanceId = randomUUID();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly watched = new Map<string, Promise<void>>();
  private readonly prefix: string;
  private subscriptionLost = false;
  /** Every send fails to publish while Redis is down: one line per outage, not one a send. */
  private readonly publishOutage = new OutageLog(this.logger, {
    down: 'Redis publish failing: frames for users on other instances are dropped until it is back',
    stillDown: 'Redis publish still failing',
    back: 'Redis publish working again',
  });

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly connections: ConnectionRegistry,
  ) {
    super();
    this.prefix = `${config.redisChannelPrefix}:u:`;
    // No offline queue for publishing: while Redis is down a publish fails at once instead of
    // piling up in memory; clients recover what they missed through seq.
    this.publisher = new Redis(config.redisUrl!, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: false,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    });
    this.subscriber = new Redis(config.redisUrl!, { maxRetriesPerRequest: null });
    // ioredis reports every failed reconnect attempt, several a second: said once per outage.
    for (const [name, client] of [['publisher', this.publisher], ['subscriber', this.subscriber]] as const) {
      const outage = new OutageLog(this.logger, {
        down: `Redis ${name} connection lost, reconnecting`,
        stillDown: `Redis ${name} still not connected`,
        back: `Redis ${name} connected again`,
      });
      client.on('error', (error) => outage.failed(error.message));
      client.on('ready', () => outage.succeeded());
    }
    this.subscriber.on('close', () => {
      if (this.watched.size > 0) this.subscriptionLost = true;
    });
    // ioredis re-subscribes every channel by itself on reconnect.
    this.subscriber.on('ready', () => {
      if (!this.subscriptionLost) return;
      this.subscriptionLost = false;
      this.logger.log('Redis subscription restored; asking local clients to resync');
      this.connections.broadcast({ type: 'resync' });
      this.onRestored?.();
    });
    this.subscriber.on('message', (channel: string, payload: string) => this.receive(channel, payload));
  }

  publish(userIds: readonly string[], frame: ServerFrame): void {
    this.beforePublish(userIds, frame);
    const data = JSON.stringify(frame);
    const encoded = Buffer.from(data);
    const newMessageId = newMessageOf(frame);
    for (const userId of userIds) this.connections.deliverSerialized(userId, encoded, newMessageId);
    this.send(userIds, `${this.instanceId}|${newMessageId ?? ''}|${data}`);
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
      subscribed = this.subscriber.subscribe(this.prefix + userId).then(() => undefined);
      // A failed subscribe is retried by ioredis on reconnect; keep the entry so it is undone later.
      subscribed.catch(() => undefined);
      this.watched.set(userId, subscribed);
    }
    return subscribed;
  }

  override unwatch(userId: string): void {
    if (!this.watched.delete(userId)) return;
    this.subscriber.unsubscribe(this.prefix + userId).catch(() => undefined);
  }

  override async isHealthy(): Promise<boolean> {
    if (this.publisher.status !== 'ready' || this.subscriber.status !== 'ready') return false;
    try {
      return (await this.publisher.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }

  private send(userIds: readonly string[], payload: string): void {
    if (userIds.length === 0) return;
    const pipeline = this.publisher.pipeline();
    for (const userId of userIds) pipeline.publish(this.prefix + userId, payload);
    // A pipeline that cannot be sent resolves with each command's error rather than rejecting.
    pipeline.exec().then(
      (results) => {
        const error = results?.find(([failure]) => failure)?.[0];
        if (error) this.publishOutage.failed(error.message);
        else this.publishOutage.succeeded();
      },
      (error: Error) => this.publishOutage.failed(error.message),
    );
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
