/** What a transport tells the RedisNotifier. */
export interface PubSubEvents {
  /** A payload arrived on a channel this instance subscribes to. */
  message(channel: string, payload: string): void;
  /**
   * Every subscription works again after some were lost: payloads published meanwhile may
   * never have arrived.
   */
  restored(): void;
}

/**
 * How the RedisNotifier's payloads travel between instances: classic pub/sub on one Redis
 * (`ChannelPubSub`), or sharded pub/sub on a Redis Cluster (`ShardedPubSub`). The notifier
 * decides what is sent and to whom; a transport only carries it.
 */
export interface PubSubTransport {
  /**
   * Publishes `payload` on every channel, pipelined: while Redis cannot take it, it is dropped
   * (the log says so once per outage). Resolves true once Redis took it on every channel, false
   * if it did not; never rejects. Callers need not wait.
   */
  publish(channels: readonly string[], payload: string): Promise<boolean>;
  /** Resolves once payloads published on `channel` reach this instance. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): void;
  /** Whether publishing and every subscription work now. */
  isHealthy(): Promise<boolean>;
  close(): void;
}
