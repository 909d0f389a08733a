import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { JobQueue } from '../jobs/job-queue.js';
import { checkDestination, deliveryAnswers, DestinationRefused, type Destination, type DestinationRules } from '../deliveries/destination.js';
import { FORGOTTEN_AFTER_SECONDS, retryDelayMs } from '../deliveries/retry-policy.js';
import { runShardRounds, type Sending } from '../deliveries/shard-rounds.js';
import { postFrame } from './webhook-post.js';
import { WebhooksRepository, type ShardDelivery, type WaitingDelivery } from './webhooks.repository.js';

/** Frames read per bot per query. */
const READ_BATCH = 50;
/** Frames a retry-lane run sends before others get their turn. */
const RUN_MAX = 500;
/** A retry-lane run renews its 60 s lease when this old: a request in flight takes at most 10 s. */
const RETRY_LEASE_RENEW_MS = 20_000;
/** One bot's frames in a shard run: sent in order, stopping at the first failure or when told to. */
interface BotSending extends Sending {
  botId: string;
  delivered: string[];
  /** How many of `delivered` the round recorded (the rest are recorded when the sending ends). */
  recorded: number;
  failure?: { delivery: WaitingDelivery; error: string };
}

/**
 * Sends bots' frames to their webhooks, oldest first, so that they arrive in order, in two lanes
 * (see the webhook-shards migration):
 * - `webhook-shard`: a healthy bot's frames, with those of every other bot of its shard: one
 *   read and one record per run, whatever the number of bots;
 * - `webhook`: a failing bot's, by a job of its own with backoff, until nothing is left waiting.
 * The destination is checked again (DNS may have changed since registration) on every run, and
 * the address checked is the one connected to.
 */
@Injectable()
export class WebhookDeliverer {
  private readonly logger = new Logger(WebhookDeliverer.name);
  private readonly rules: DestinationRules;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly jobs: JobQueue,
    private readonly webhooks: WebhooksRepository,
  ) {
    this.rules = { allowHttp: config.webhookAllowHttp, allowPrivate: config.webhookAllowPrivate };
    jobs.define('webhook-shard', ({ key }) => this.runShard(Number(key)), 'webhook');
    jobs.define('webhook', ({ key }) => this.runRetryLane(key));
    this.wakeForgotten = jobs.defineSweep('webhook', {
      wake: () => this.webhooks.wakeForgotten(FORGOTTEN_AFTER_SECONDS),
      logger: this.logger,
      said: (woken) => `Woke the webhook jobs of ${woken} bots whose frames were waiting with none`,
    });
  }

  /** Frames left waiting with no job to send them get one (see WebhooksRepository.wakeForgotten). */
  readonly wakeForgotten: () => Promise<void>;

  private runShard(shard: number): Promise<void> {
    return runShardRounds<BotSending>({
      start: async () => [...groupByBot(await this.webhooks.shardWaiting(shard, READ_BATCH)).values()].map((frames) => this.sendInOrder(frames)),
      record: async (ended, sending) => {
        // Those still sending keep their bot leased; a failed bot keeps its lease (none) until
        // `failed` moves it to the retry lane.
        for (const bot of sending) bot.recorded = bot.delivered.length;
        await this.webhooks.recordShardRun([
          ...ended.map((bot) => ({ botId: bot.botId, delivered: bot.delivered, leased: false })),
          ...sending.map((bot) => ({ botId: bot.botId, delivered: bot.delivered.slice(), leased: true })),
        ]);
        for (const bot of ended) if (bot.failure) await this.failed(bot.botId, bot.failure.delivery, bot.failure.error);
      },
      finishLeft: (sending) => this.finishLeft(sending),
      handOn: () => this.webhooks.wakeShard(shard),
      outlive: (work) => this.jobs.outlive(work),
    });
  }

  /** Sends one bot's frames of a shard run, in order, until one fails or the run says stop. */
  private sendInOrder(frames: ShardDelivery[]): BotSending {
    const sending: BotSending = { botId: frames[0].botId, delivered: [], recorded: 0, stop: false, done: false, finished: Promise.resolve() };
    sending.finished = (async () => {
      let destination: Destination | undefined;
      for (const delivery of frames) {
        if (sending.stop) break;
        const error = await this.attempt(delivery, async () => (destination ??= await checkDestination(delivery.url, this.rules, deliveryAnswers)));
        if (error !== undefined) {
          sending.failure = { delivery, error };
          break;
        }
        sending.delivered.push(delivery.id);
      }
    })()
      .catch((error: Error) => {
        sending.failure = { delivery: frames[sending.delivered.length] ?? frames[0], error: error.message };
      })
      .finally(() => (sending.done = true));
    return sending;
  }

  /**
   * What a shard run left in flight, once it ends: its delivery recorded and the lease let go,
   * or the failure recorded (which lets it go), and the shard woken for what the bot has waiting.
   */
  private async finishLeft(sending: BotSending): Promise<void> {
    await sending.finished;
    try {
      const delivered = sending.delivered.slice(sending.recorded);
      await this.webhooks.recordShardRun([{ botId: sending.botId, delivered, leased: sending.failure !== undefined }]);
      if (sending.failure) return await this.failed(sending.botId, sending.failure.delivery, sending.failure.error);
      await this.webhooks.wakeShards([sending.botId]);
    } catch (error) {
      // The lease lapses, and the minute's sweep wakes what waits.
      this.logger.warn(`Could not record the delivery left in flight for bot ${sending.botId}: ${(error as Error).message}`);
    }
  }

  /**
   * A failing bot's own job: its frames in order until none is left, then back to its shard.
   * It runs under the bot's lease (none: another run has it, or the bot is back with its
   * shard), renewed every RETRY_LEASE_RENEW_MS, and let go by whatever ends the run.
   */
  private async runRetryLane(botId: string): Promise<void> {
    if (!(await this.webhooks.leaseRetrying(botId))) return;
    let leasedAt = performance.now();
    let sent = 0;
    let destination: Destination | undefined;
    while (sent < RUN_MAX) {
      const waiting = await this.webhooks.waiting(botId, READ_BATCH);
      // Recorded once per batch, not per frame: a crash in between sends the batch's delivered
      // frames again, which at-least-once allows (receivers deduplicate by Parley-Delivery).
      const delivered: string[] = [];
      for (const delivery of waiting) {
        if (performance.now() - leasedAt > RETRY_LEASE_RENEW_MS) {
          await this.webhooks.leaseRetrying(botId, true);
          leasedAt = performance.now();
        }
        const error = await this.attempt(delivery, async () => (destination ??= await checkDestination(delivery.url, this.rules, deliveryAnswers)));
        if (error !== undefined) {
          await this.webhooks.delivered(botId, delivered);
          return this.failed(botId, delivery, error);
        }
        delivered.push(delivery.id);
      }
      // A short read took everything there was: the bot goes back to its shard, which is woken
      // for anything that came since (the shard passed it over while it was retrying).
      if (waiting.length < READ_BATCH) {
        await this.webhooks.delivered(botId, delivered, true);
        return this.webhooks.wakeShards([botId]);
      }
      await this.webhooks.delivered(botId, delivered);
      sent += delivered.length;
    }
    await this.webhooks.wake(botId);
  }

  /** POSTs one frame; the error to record, or undefined when it was answered 2xx. */
  private async attempt(delivery: WaitingDelivery, destination: () => Promise<Destination>): Promise<string | undefined> {
    try {
      // Compact, as a socket sends it (the frames queued by SQL are spaced out).
      const body = JSON.stringify(JSON.parse(delivery.frame));
      const outcome = await postFrame(await destination(), body, delivery.deliveryId, delivery.secret);
      return outcome.ok ? undefined : outcome.error;
    } catch (failure) {
      if (!(failure instanceof DestinationRefused)) throw failure;
      return failure.message;
    }
  }

  private async failed(botId: string, delivery: WaitingDelivery, error: string): Promise<void> {
    const { failuresInARow, gaveUp } = await this.webhooks.failed(botId, error);
    if (gaveUp) {
      this.logger.warn(`Webhook of bot ${botId} failing for too long (${error}): its waiting frames are dead letters`);
      return;
    }
    await this.webhooks.retryLater(botId, retryDelayMs(failuresInARow));
    if (failuresInARow === 1) this.logger.warn(`Webhook of bot ${botId} failed (${error}) at delivery ${delivery.deliveryId}; retrying with backoff`);
  }
}

/** A shard's frames, read in bot order, as one list per bot. */
function groupByBot(frames: ShardDelivery[]): Map<string, ShardDelivery[]> {
  const byBot = new Map<string, ShardDelivery[]>();
  for (const frame of frames) {
    const list = byBot.get(frame.botId);
    if (list) list.push(frame);
    else byBot.set(frame.botId, [frame]);
  }
  return byBot;
}
