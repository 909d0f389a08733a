import type { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { OutageLog } from '../common/outage-log.js';
import { createRedisClient, createRedisSubscriber, execAll, type RedisClient, type RedisSettings } from '../redis/redis-clients.js';
import type { PubSubEvents, PubSubTransport } from './pubsub-transport.js';

/**
 * One Redis: a publisher connection and a subscriber connection. ioredis reconnects the
 * subscriber by itself and subscribes again to every channel; a subscriber that lost its
 * connection while it had channels reports `restored` when it is ready again.
 */
export class ChannelPubSub implements PubSubTransport {
  private readonly publisher: RedisClient;
  private readonly subscriber: Redis;
  private subscriptions = 0;
  private lost = false;
  /** Every send fails to publish while Redis is down: one line per outage, not one a send. */
  private readonly publishOutage: OutageLog;

  constructor(config: RedisSettings, logger: Pick<Logger, 'warn' | 'log'>, events: PubSubEvents) {
    this.publishOutage = new OutageLog(logger, {
      down: 'Redis publish failing: frames for users on other instances are dropped until it is back',
      stillDown: 'Redis publish still failing',
      back: 'Redis publish working again',
    });
    this.publisher = createRedisClient(config);
    this.subscriber = createRedisSubscriber(config.redisUrl!);
    // ioredis reports every failed reconnect attempt, several a second: said once per outage.
    for (const [name, client] of [['publisher', this.publisher], ['subscriber', this.subscriber]] as const) {
      const outage = new OutageLog(logger, {
        down: `Redis ${name} connection lost, reconnecting`,
        stillDown: `Redis ${name} still not connected`,
        back: `Redis ${name} connected again`,
      });
      client.on('error', (error: Error) => outage.failed(error.message));
      client.on('ready', () => outage.succeeded());
    }
    this.subscriber.on('close', () => {
      if (this.subscriptions > 0) this.lost = true;
    });
    // ioredis re-subscribes every channel by itself on reconnect.
    this.subscriber.on('ready', () => {
      if (!this.lost) return;
      this.lost = false;
      events.restored();
    });
    this.subscriber.on('message', (channel: string, payload: string) => events.message(channel, payload));
  }

  publish(channels: readonly string[], payload: string): Promise<boolean> {
    const pipeline = this.publisher.pipeline();
    for (const channel of channels) pipeline.publish(channel, payload);
    return execAll(pipeline).then(
      () => {
        this.publishOutage.succeeded();
        return true;
      },
      (error: Error) => {
        this.publishOutage.failed(error.message);
        return false;
      },
    );
  }

  subscribe(channel: string): Promise<void> {
    this.subscriptions++;
    return this.subscriber.subscribe(channel).then(() => undefined);
  }

  unsubscribe(channel: string): void {
    this.subscriptions--;
    this.subscriber.unsubscribe(channel).catch(() => undefined);
  }

  async isHealthy(): Promise<boolean> {
    if (this.publisher.status !== 'ready' || this.subscriber.status !== 'ready') return false;
    try {
      return (await this.publisher.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  close(): void {
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }
}
