import { readdir } from 'node:fs/promises';
import { Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DataSource } from 'typeorm';

/** prom-client's default metrics that cost a scrape time in proportion to the open sockets. */
const SCRAPED_BY_WALKING_EVERY_HANDLE = [
  'process_open_fds',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
];

/** What `pg`'s Pool exposes about its connections. */
interface PoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options?: { max?: number };
}

/**
 * Parley's Prometheus metrics, in a registry of its own (not prom-client's global one, so that
 * several apps in one process, as in the tests, do not collide). Hot paths only increment
 * counters or observe a histogram; gauges are sampled when /metrics is scraped.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'HTTP request duration, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly messagesStored = new Counter({
    name: 'parley_messages_stored_total',
    help: 'Messages committed to the database (idempotent retries not counted)',
    registers: [this.registry],
  });

  readonly sendBatchSize = new Histogram({
    name: 'parley_send_batch_size',
    help: 'Messages stored by one statement: sends made while earlier ones run are batched together',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });

  readonly notificationsSent = new Counter({
    name: 'parley_notifications_sent_total',
    help: 'Notification frames written to WebSocket connections on this instance',
    registers: [this.registry],
  });

  readonly notificationLatency = new Histogram({
    name: 'parley_notification_latency_seconds',
    help: "Time from a message write's commit to its notification being handed to the sockets (or to Redis), by frame type",
    labelNames: ['type'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly typingFrames = new Counter({
    name: 'parley_typing_frames_total',
    help: 'Typing signals received (socket frames and POSTs), by outcome: passed on, over the 2 s limit, or from a non-member',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly presenceAnnouncements = new Counter({
    name: 'parley_presence_announcements_total',
    help: 'Presence changes announced by this instance (each once, whichever instance saw it), by status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  private connectionsSampler: () => number = () => 0;

  constructor(@Optional() @InjectDataSource() dataSource?: DataSource) {
    const sampleConnections = () => this.connectionsSampler();
    new Gauge({
      name: 'parley_ws_connections',
      help: 'Open WebSocket connections on this instance',
      registers: [this.registry],
      collect() {
        this.set(sampleConnections());
      },
    });
    const pool = () => (dataSource?.driver as { master?: PoolLike } | undefined)?.master;
    new Gauge({
      name: 'parley_db_pool_connections',
      help: 'Database pool connections, by state: total (open), idle, waiting (requests queued for a connection)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const current = pool();
        if (!current) return;
        this.set({ state: 'total' }, current.totalCount);
        this.set({ state: 'idle' }, current.idleCount);
        this.set({ state: 'waiting' }, current.waitingCount);
      },
    });
    new Gauge({
      name: 'parley_db_pool_max',
      help: 'Largest number of connections the database pool may open',
      registers: [this.registry],
      collect() {
        const max = pool()?.options?.max;
        if (max !== undefined) this.set(max);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_' });
    // These walk every handle, or read /proc/self/fd, synchronously on each scrape: with 15,000
    // sockets a scrape held the event loop for 180 ms, and every frame and request waited behind
    // it (bench/HISTORY.md, 2026-12-07 19:09). Handles are mostly sockets, which
    // parley_ws_connections counts; the open descriptors are read off the event loop instead.
    for (const name of SCRAPED_BY_WALKING_EVERY_HANDLE) this.registry.removeSingleMetric(`parley_${name}`);
    if (process.platform === 'linux') {
      new Gauge({
        name: 'parley_process_open_fds',
        help: 'Number of open file descriptors.',
        registers: [this.registry],
        async collect() {
          const descriptors = await readdir('/proc/self/fd').catch(() => undefined);
          if (descriptors) this.set(descriptors.length);
        },
      });
    }
  }

  /** Where the open-connections gauge reads its value (the gateway's registry of sockets). */
  sampleConnectionsWith(sampler: () => number): void {
    this.connectionsSampler = sampler;
  }

  observeHttp(method: string, route: string | undefined, statusCode: number, elapsedMs: number): void {
    // The route pattern, never the raw URL, so that ids do not multiply the series; anything
    // no route matched (404s, probes for random paths) shares one label.
    this.httpRequestDuration.observe({ method, route: route ?? 'unmatched', status_code: statusCode }, elapsedMs / 1000);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
