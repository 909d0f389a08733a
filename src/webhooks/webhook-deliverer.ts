import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { JobQueue } from '../jobs/job-queue.js';
import { checkDestination, DestinationRefused, type Destination, type DestinationRules } from '../deliveries/destination.js';
import { FORGOTTEN_AFTER_SECONDS, retryDelayMs } from '../deliveries/retry-policy.js';
import { postFrame } from './webhook-post.js';
import { WebhooksRepository, type WaitingDelivery } from './webhooks.repository.js';

/** Frames read per query, and sent per run of a bot's job before others get their turn. */
const READ_BATCH = 50;
const RUN_MAX = 500;

/**
 * The `webhook` job: sends a bot's waiting frames to its webhook, oldest first, one at a time,
 * and stops at the first failure (so frames arrive in order), to try again after a backoff. The
 * destination is checked again (DNS may have changed since registration) on every run, and the
 * address checked is the one connected to.
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
    jobs.define('webhook', ({ key }) => this.run(key));
    jobs.defineSweep('webhook', () => this.wakeForgotten());
  }

  /** Frames left waiting with no job to send them get one (see WebhooksRepository.wakeForgotten). */
  async wakeForgotten(): Promise<void> {
    const woken = await this.webhooks.wakeForgotten(FORGOTTEN_AFTER_SECONDS);
    if (woken === 0) return;
    this.logger.warn(`Woke the webhook jobs of ${woken} bots whose frames were waiting with none`);
    this.jobs.nudge();
  }

  private async run(botId: string): Promise<void> {
    let sent = 0;
    let destination: Destination | undefined;
    while (sent < RUN_MAX) {
      const waiting = await this.webhooks.waiting(botId, READ_BATCH);
      if (waiting.length === 0) return;
      // Recorded once per batch, not per frame: a crash in between sends the batch's delivered
      // frames again, which at-least-once allows (receivers deduplicate by Parley-Delivery).
      const delivered: string[] = [];
      for (const delivery of waiting) {
        let error: string | undefined;
        try {
          destination ??= await checkDestination(delivery.url, this.rules);
          // Compact, as a socket sends it (the frames queued by SQL are spaced out).
          const body = JSON.stringify(JSON.parse(delivery.frame));
          const outcome = await postFrame(destination, body, delivery.deliveryId, delivery.secret);
          if (!outcome.ok) error = outcome.error;
        } catch (failure) {
          if (!(failure instanceof DestinationRefused)) throw failure;
          error = failure.message;
        }
        if (error !== undefined) {
          await this.webhooks.delivered(botId, delivered);
          return this.failed(botId, delivery, error);
        }
        delivered.push(delivery.id);
      }
      await this.webhooks.delivered(botId, delivered);
      sent += delivered.length;
      // A short read took everything there was: a frame committed since then woke a new job
      // (wake_jobs hands a running job's key on), so reading again would find nothing.
      if (waiting.length < READ_BATCH) return;
    }
    await this.webhooks.wake(botId);
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
