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

  private async run(subscriptionId: string): Promise<void> {
    const waiting = await this.pushes.waiting(subscriptionId, READ_BATCH);
    if (waiting.length === 0) return;
    const { userId } = waiting[0];
    if ((await this.presence.lookup([userId])).get(userId)?.online) {
      await this.pushes.done(subscriptionId, waiting.map((push) => push.id), false);
    } else {
      for (const [newest, superseded] of newestPerConversation(waiting)) {
        const outcome = await this.send(newest);
        if (outcome === 'gone') return this.pushes.removeGone(subscriptionId);
        if (outcome === 'retry') return this.failed(subscriptionId);
        await this.pushes.done(subscriptionId, [...superseded, newest.id], outcome === 'sent');
      }
    }
    if (waiting.length === READ_BATCH) await this.pushes.wake(subscriptionId);
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

  private async failed(subscriptionId: string): Promise<void> {
    const { failuresInARow, gaveUp } = await this.pushes.failed(subscriptionId);
    if (!gaveUp) await this.pushes.retryLater(subscriptionId, retryDelayMs(failuresInARow));
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
