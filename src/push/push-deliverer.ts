import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger } from '@nestjs/common';
import webpush from 'web-push';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { checkDestination, DestinationRefused, type DestinationRules } from '../deliveries/destination.js';
import { postTo } from '../deliveries/pinned-post.js';
import { FORGOTTEN_AFTER_SECONDS, retryDelayMs } from '../deliveries/retry-policy.js';
import { JobQueue } from '../jobs/job-queue.js';
import { PresenceStore } from '../presence/presence-store.js';
import { PushRepository, type WaitingPush } from './push.repository.js';
import { VAPID_KEYS, type VapidKeys } from './vapid-keys.js';

/** A push not delivered within a day is of no use: the push service may drop it after this. */
const TTL_SECONDS = 24 * 60 * 60;
const READ_BATCH = 100;
/** A run starts no push after this long (each takes at most 10 s), within its 60 s lease. */
const RUN_MAX_MS = 30_000;

/**
 * The `push` job: sends a subscription's waiting pushes, if its user has no socket open on any
 * instance (then the socket has told it already, and they are dropped). Of several waiting for one
 * conversation only the newest is sent: the push service and the phone keep one per conversation
 * anyway (`Topic`). 404 and 410 remove the subscription; 429, 5xx, timeouts and refused
 * connections are tried again with backoff; other answers drop the push (it would never succeed).
 */
@Injectable()
export class PushDeliverer {
  private readonly logger = new Logger(PushDeliverer.name);
  private readonly rules: DestinationRules;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(VAPID_KEYS) private readonly vapid: VapidKeys,
    jobs: JobQueue,
    private readonly pushes: PushRepository,
    private readonly presence: PresenceStore,
  ) {
    this.rules = { allowHttp: config.webhookAllowHttp, allowPrivate: config.webhookAllowPrivate };
    jobs.define('push', ({ key }) => this.run(key));
    this.wakeForgotten = jobs.defineSweep('push', {
      wake: () => this.pushes.wakeForgotten(FORGOTTEN_AFTER_SECONDS),
      logger: this.logger,
      said: (woken) => `Woke the push jobs of ${woken} subscriptions whose pushes were waiting with none`,
    });
  }

  /** Pushes left waiting with no job to send them get one (see PushRepository.wakeForgotten). */
  readonly wakeForgotten: () => Promise<void>;

  /**
   * A run holds the subscription's lease (none: another run has it, and looks again for what
   * waits when it lets go). Pushes that came meanwhile, or more than one read, get a new run
   * then, unless the run ended in a retry scheduled for later, or the subscription went.
   */
  private async run(subscriptionId: string): Promise<void> {
    if (!(await this.pushes.lease(subscriptionId))) return;
    // A run that throws is tried again by the queue, with its backoff.
    let wakeForWaiting = false;
    try {
      wakeForWaiting = (await this.sendWaiting(subscriptionId)) === 'sent';
    } finally {
      if ((await this.pushes.release(subscriptionId)) && wakeForWaiting) await this.pushes.wake(subscriptionId);
    }
  }

  private async sendWaiting(subscriptionId: string): Promise<'sent' | 'retrying' | 'gone'> {
    const waiting = await this.pushes.waiting(subscriptionId, READ_BATCH);
    if (waiting.length === 0) return 'sent';
    const { userId } = waiting[0];
    if ((await this.presence.lookup([userId])).get(userId)?.online) {
      await this.pushes.done(subscriptionId, waiting.map((push) => push.id), false);
      return 'sent';
    }
    const started = performance.now();
    for (const [newest, superseded] of newestPerConversation(waiting)) {
      // The rest go in a new run, well within the lease.
      if (performance.now() - started > RUN_MAX_MS) break;
      const outcome = await this.send(newest);
      if (outcome === 'gone') {
        await this.pushes.removeGone(subscriptionId);
        return 'gone';
      }
      if (outcome === 'retry') return (await this.failed(subscriptionId)) ? 'retrying' : 'sent';
      await this.pushes.done(subscriptionId, [...superseded, newest.id], outcome === 'sent');
    }
    return 'sent';
  }

  private async send(push: WaitingPush): Promise<'sent' | 'dropped' | 'gone' | 'retry'> {
    let details;
    try {
      details = webpush.generateRequestDetails({ endpoint: push.endpoint, keys: { p256dh: push.p256dh, auth: push.auth } }, push.frame, {
        vapidDetails: this.vapid,
        TTL: TTL_SECONDS,
        urgency: push.urgent ? 'high' : 'normal',
        // Collapsed per conversation: a burst to an offline phone leaves one notification.
        topic: `c${push.conversationId}`,
      });
    } catch (error) {
      // Keys no push can be encrypted to (subscriptions are checked since; one stored before
      // would fail like this on every try): the subscription goes, as one the service forgot.
      this.logger.warn(`A push subscription of user ${push.userId} has unusable keys (${(error as Error).message}): removed`);
      return 'gone';
    }
    let destination;
    try {
      destination = await checkDestination(push.endpoint, this.rules);
    } catch (error) {
      if (!(error instanceof DestinationRefused)) throw error;
      this.logger.warn(`Push endpoint refused at delivery (${error.message})`);
      return 'retry';
    }
    const outcome = await postTo(destination, details.headers as Record<string, string>, details.body ?? '');
    if (outcome.ok) return 'sent';
    if (outcome.status === 404 || outcome.status === 410) return 'gone';
    if (outcome.status === undefined || outcome.status === 429 || outcome.status >= 500) return 'retry';
    this.logger.warn(`Push service answered ${outcome.status}: push dropped`);
    return 'dropped';
  }

  /** Records a failure; true when a retry is scheduled, false when the pushes waiting were given up. */
  private async failed(subscriptionId: string): Promise<boolean> {
    const { failuresInARow, gaveUp } = await this.pushes.failed(subscriptionId);
    if (!gaveUp) await this.pushes.retryLater(subscriptionId, retryDelayMs(failuresInARow));
    return !gaveUp;
  }
}

/**
 * Each conversation's newest push, with the ids of the older ones it supersedes, oldest
 * conversation first. It is urgent if any of them was (a mention followed by a chat message).
 */
function newestPerConversation(waiting: readonly WaitingPush[]): [WaitingPush, string[]][] {
  const byConversation = new Map<string, WaitingPush[]>();
  for (const push of waiting) {
    const pushes = byConversation.get(push.conversationId) ?? [];
    pushes.push(push);
    byConversation.set(push.conversationId, pushes);
  }
  return [...byConversation.values()].map((pushes) => [
    { ...pushes[pushes.length - 1], urgent: pushes.some((push) => push.urgent) },
    pushes.slice(0, -1).map((push) => push.id),
  ]);
}
