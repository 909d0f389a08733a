import type { Logger } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { OutageLog } from '../common/outage-log.js';
import { createRedisClient, createShardSubscriber, type RedisSettings } from '../redis/redis-clients.js';
import { CLUSTER_SLOTS, keySlot } from '../redis/redis-key-slot.js';
import type { PubSubEvents, PubSubTransport } from './pubsub-transport.js';

/**
 * After losing subscriptions, the first attempt to place them again waits this long; each
 * attempt that fails doubles the wait, up to REPAIR_MAX_MS. A master that died is replaced by
 * its replica within a few seconds (cluster-node-timeout and an election); until then its slots
 * still name it, and each attempt fails fast.
 */
const REPAIR_FIRST_MS = 100;
const REPAIR_MAX_MS = 500;

/** A node's answer that the slot is another's: the command was not run there. */
const REDIRECTION = /^(MOVED|ASK) /;

/** One subscriber connection to one master, and the channels subscribed on it. */
class Shard {
  readonly redis: Redis;
  readonly channels = new Set<string>();
  /** Rejects when the connection is given up, so that nothing waits on it for ever. */
  readonly gone: Promise<never>;
  ended = false;
  private giveUp!: (error: Error) => void;
  private lastError?: string;

  constructor(
    /** `host:port`, as the cluster names its nodes. */
    readonly node: string,
    onMessage: (channel: string, payload: string) => void,
    onLost: (shard: Shard, reason: string) => void,
  ) {
    this.gone = new Promise<never>((_, reject) => (this.giveUp = reject));
    this.gone.catch(() => undefined);
    const separator = node.lastIndexOf(':');
    this.redis = createShardSubscriber({ host: node.slice(0, separator), port: Number(node.slice(separator + 1)) });
    this.redis.on('smessage', onMessage);
    this.redis.on('close', () => onLost(this, this.lastError ?? 'connection closed'));
    // SSUBSCRIBE answered MOVED: the slot is another node's now (ioredis leaves that command unanswered).
    this.redis.on('moved', () => onLost(this, 'a slot it held has moved'));
    this.redis.on('error', (error: Error) => {
      this.lastError = error.message;
      // The node unsubscribed channels by itself: their slot was migrated, or it became a replica.
      if (error.message.includes('sunsubscribe')) onLost(this, 'it dropped channels whose slots moved');
    });
  }

  /** Gives the connection up; false if it already was. */
  end(reason: string): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.giveUp(new Error(`sharded subscriber on ${this.node} lost: ${reason}`));
    this.redis.removeAllListeners();
    this.redis.on('error', () => undefined);
    this.redis.disconnect();
    return true;
  }
}

/**
 * A Redis Cluster (REDIS_CLUSTER_NODES): sharded pub/sub, Redis 7's `SPUBLISH`/`SSUBSCRIBE`. A
 * channel belongs to the shard that holds its hash slot, and a payload published on it goes to
 * that shard's nodes only, so fan-out traffic spreads over the shards instead of reaching
 * every node of the cluster as classic pub/sub does.
 *
 * Publishing goes through one cluster client, in one pipeline per master for the channels of
 * a send. Subscribing uses a connection per master that holds a channel of this instance,
 * managed here rather than by ioredis's own sharded subscribers: those retry a master that has
 * gone in a tight loop until its replica takes over, and report being ready again before
 * they have subscribed. Here, when a master's connection goes (or its slots move), its channels
 * wait to be placed again, with a growing pause, on whichever masters hold their slots once the
 * slots are read anew (after a failover, the promoted replica); when every channel is placed
 * and the master has confirmed it, `restored` is reported, and the notifier asks its clients to
 * resync: a shard that was lost may have carried frames for them.
 */
export class ShardedPubSub implements PubSubTransport {
  private readonly cluster: Cluster;
  private readonly shards = new Map<string, Shard>();
  /** Every channel subscribed to, with the shard it is subscribed on (none: waiting for one). */
  private readonly channels = new Map<string, Shard | undefined>();
  /** Subscriptions were lost (or could not be made): `restored` is due once all are placed. */
  private lost = false;
  private closed = false;
  private repairTimer?: NodeJS.Timeout;
  private repairDelayMs = REPAIR_FIRST_MS;
  /** The master of each slot when the slots were last read, to notice slots that moved. */
  private masters: (string | undefined)[] = [];
  private readonly publishOutages = new Map<string, OutageLog>();
  private readonly subscriberOutages = new Map<string, OutageLog>();
  private readonly clusterOutage: OutageLog;

  constructor(
    config: RedisSettings,
    private readonly logger: Pick<Logger, 'warn' | 'log'>,
    private readonly events: PubSubEvents,
  ) {
    this.clusterOutage = new OutageLog(logger, {
      down: 'Redis Cluster connection lost, reconnecting',
      stillDown: 'Redis Cluster still not connected',
      back: 'Redis Cluster connected again',
    });
    this.cluster = createRedisClient(config) as Cluster;
    this.cluster.on('error', (error: Error) => this.clusterOutage.failed(error.message));
    this.cluster.on('ready', () => {
      this.clusterOutage.succeeded();
      this.checkSlots();
    });
    // After every reading of the slots (every 5 s, and on MOVED or a node lost).
    this.cluster.on('refresh', () => this.checkSlots());
  }

  publish(channels: readonly string[], payload: string): Promise<boolean> {
    // A cluster pipeline must stay on one master (and its replicas): one per master.
    const groups = new Map<string, string[]>();
    for (const channel of channels) {
      const group = this.cluster.slots[keySlot(channel)]?.join(';') ?? '';
      const members = groups.get(group);
      if (members) members.push(channel);
      else groups.set(group, [channel]);
    }
    const published = [...groups].map(([group, members]) => {
      const outage = this.outageOf(this.publishOutages, group.split(';')[0] || 'the cluster', (node) => ({
        down: `Redis publish failing for the channels of ${node}: frames for their users on other instances are dropped until it is back`,
        stillDown: `Redis publish still failing for the channels of ${node}`,
        back: `Redis publish working again for the channels of ${node}`,
      }));
      return this.publishTo(members, payload).then(
        () => {
          outage.succeeded();
          return true;
        },
        (error: Error) => {
          outage.failed(error.message);
          return false;
        },
      );
    });
    return Promise.all(published).then((each) => each.every(Boolean));
  }

  subscribe(channel: string): Promise<void> {
    this.channels.set(channel, undefined);
    return this.place(channel).catch((error: Error) => {
      // Not subscribed now: frames published before it is placed may never arrive.
      this.lost = true;
      this.scheduleRepair();
      throw error;
    });
  }

  unsubscribe(channel: string): void {
    const shard = this.channels.get(channel);
    this.channels.delete(channel);
    if (!shard) return;
    shard.channels.delete(channel);
    // On the connection the SSUBSCRIBE went on, so after it.
    if (!shard.ended) shard.redis.sunsubscribe(channel).catch(() => undefined);
  }

  async isHealthy(): Promise<boolean> {
    if (this.closed || this.lost || this.cluster.status !== 'ready') return false;
    try {
      return /cluster_state:ok/.test(await this.cluster.cluster('INFO'));
    } catch {
      return false;
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.repairTimer);
    for (const shard of this.shards.values()) shard.end('closing');
    this.shards.clear();
    this.cluster.disconnect();
  }

  /**
   * One pipeline to the master of `channels`. ioredis follows a redirection for a whole
   * pipeline only when every command got the same one and none succeeded: after a slot moved
   * from a master that still holds others, the commands for its channels get MOVED and
   * nothing sends them on, until the slots are read again (every 5 s). Those are sent again
   * one by one, as commands of their own follow MOVED and ASK and read the slots anew. Other
   * failures are not: a command that timed out may have been published.
   */
  private async publishTo(channels: string[], payload: string): Promise<void> {
    const pipeline = this.cluster.pipeline();
    for (const channel of channels) pipeline.spublish(channel, payload);
    const results = await pipeline.exec();
    if (!results) throw new Error('publish pipeline discarded');
    const redirected: string[] = [];
    let failure: Error | undefined;
    results.forEach(([error], i) => {
      if (!error) return;
      if (REDIRECTION.test(error.message)) redirected.push(channels[i]);
      else failure ??= error;
    });
    const resent = await Promise.allSettled(redirected.map((channel) => this.cluster.spublish(channel, payload)));
    for (const result of resent) if (result.status === 'rejected') failure ??= result.reason as Error;
    if (failure) throw failure;
  }

  /** Subscribes to `channel` on the master that holds its slot; resolves once it confirms. */
  private async place(channel: string): Promise<void> {
    // Unsubscribed while it waited to be placed.
    if (!this.channels.has(channel)) return;
    const node = this.cluster.slots[keySlot(channel)]?.[0];
    if (!node) throw new Error(`no Redis Cluster node is known for the slot of ${channel}`);
    let shard = this.shards.get(node);
    if (!shard) {
      shard = new Shard(node, (name, payload) => this.events.message(name, payload), (lost, reason) => this.shardLost(lost, reason));
      this.shards.set(node, shard);
    }
    this.channels.set(channel, shard);
    shard.channels.add(channel);
    await Promise.race([shard.redis.ssubscribe(channel), shard.gone]);
  }

  /** A master's connection went (or its slots moved): its channels wait to be placed again. */
  private shardLost(shard: Shard, reason: string): void {
    if (!shard.end(reason)) return;
    if (this.shards.get(shard.node) === shard) this.shards.delete(shard.node);
    let hadChannels = false;
    for (const channel of shard.channels) {
      if (this.channels.get(channel) !== shard) continue;
      this.channels.set(channel, undefined);
      hadChannels = true;
    }
    if (this.closed || !hadChannels) return;
    this.lost = true;
    this.outageOf(this.subscriberOutages, shard.node, (node) => ({
      down: `Redis subscriber connection to ${node} lost, subscribing again where its slots are held`,
      stillDown: `Redis subscriptions of ${node} still not placed again`,
      back: `Redis subscriptions of ${node} placed again`,
    })).failed(reason);
    this.scheduleRepair();
  }

  /** Shards holding a channel whose slot has moved to another master are given up. */
  private checkSlots(): void {
    const slots = this.cluster.slots;
    let moved = this.masters.length !== CLUSTER_SLOTS;
    const masters = new Array<string | undefined>(CLUSTER_SLOTS);
    for (let slot = 0; slot < CLUSTER_SLOTS; slot++) {
      masters[slot] = slots[slot]?.[0];
      if (masters[slot] !== this.masters[slot]) moved = true;
    }
    this.masters = masters;
    if (!moved) return;
    for (const shard of [...this.shards.values()]) {
      for (const channel of shard.channels) {
        if (masters[keySlot(channel)] !== shard.node) {
          this.shardLost(shard, `the slot of ${channel} is held by ${masters[keySlot(channel)] ?? 'no node'} now`);
          break;
        }
      }
    }
  }

  private scheduleRepair(): void {
    if (this.closed || this.repairTimer) return;
    this.repairTimer = setTimeout(() => {
      void this.repair().finally(() => {
        this.repairTimer = undefined;
        if (this.lost) this.scheduleRepair();
      });
    }, this.repairDelayMs);
    this.repairTimer.unref();
    this.repairDelayMs = Math.min(this.repairDelayMs * 2, REPAIR_MAX_MS);
  }

  /** Reads the slots anew and places every channel waiting for a shard; `restored` once all are. */
  private async repair(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => this.cluster.refreshSlotsCache(() => resolve()));
    const waiting = [...this.channels].filter(([, shard]) => !shard).map(([channel]) => channel);
    const placed = await Promise.allSettled(waiting.map((channel) => this.place(channel)));
    if (this.closed || placed.some((result) => result.status === 'rejected')) return;
    if ([...this.channels.values()].some((shard) => !shard)) return;
    this.repairDelayMs = REPAIR_FIRST_MS;
    if (!this.lost) return;
    this.lost = false;
    for (const outage of this.subscriberOutages.values()) outage.succeeded();
    this.subscriberOutages.clear();
    this.events.restored();
  }

  private outageOf(logs: Map<string, OutageLog>, node: string, words: (node: string) => ConstructorParameters<typeof OutageLog>[1]): OutageLog {
    let log = logs.get(node);
    if (!log) logs.set(node, (log = new OutageLog(this.logger, words(node))));
    return log;
  }
}
