import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger } from '@nestjs/common';
import webpush from 'web-push';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { checkDestination, deliveryAnswers, DestinationRefused, type DestinationRules } from '../deliveries/destination.js';
import { postTo } from '../deliveries/pinned-post.js';
import { FORGOTTEN_AFTER_SECONDS, retryDelayMs } from '../deliveries/retry-policy.js';
import { runShardRounds, type Sending } from '../deliveries/shard-rounds.js';
import { JobQueue } from '../jobs/job-queue.js';
import { PresenceStore } from '../presence/presence-store.js';
import { PushRepository, type WaitingPush } from './push.repository.js';
import { VapidAuthorizations } from './vapid-authorizations.js';
import { VAPID_KEYS, type VapidKeys } from './vapid-keys.js';

/** A push not delivered within a day is of no use: the push service may drop it after this. */
const TTL_SECONDS = 24 * 60 * 60;
/** Pushes read per subscription. */
const READ_BATCH = 100;
/** Subscriptions a shard run takes per round. */
const SHARD_SUBSCRIPTIONS = 200;
/** A subscription's sending starts no push after this long (each takes at most 10 s), within its 60 s lease. */
const SENDING_MAX_MS = 30_000;

/** One subscription's waiting pushes being sent: the newest of each conversation, in turn. */
interface PushSending extends Sending {
  subscriptionId: string;
  /** Pushes done with: sent, superseded by a newer one of their conversation, or not needed. */
  doneWith: string[];
  /** Whether the push service took at least one. */
  succeeded: boolean;
  /** How it ended: `retrying` (a retry is scheduled), `gone` (the subscription was removed), or `sent` (the rest). */
  ended?: 'sent' | 'retrying' | 'gone';
}

/**
 * Sends pushes to subscriptions whose user has no socket open on any instance (then the socket
 * has told them already, and the pushes are dropped), in two lanes (see the push-shards
 * migration):
 * - `push-shard`: healthy subscriptions' pushes, with those of others of their shard: one read
 *   (which leases them) and one record per round, whatever the number of subscriptions;
 * - `push`: a failing subscription's, by a job of its own with backoff, until one succeeds.
 * Of several pushes waiting for one conversation only the newest is sent: the push service and
 * the phone keep one per conversation anyway (`Topic`). 404 and 410 remove the subscription;
 * 429, 5xx, timeouts and refused connections are tried again with backoff; other answers drop
 * the push (it would never succeed).
 */
@Injectable()
export class PushDeliverer {
  private readonly logger = new Logger(PushDeliverer.name);
  private readonly rules: DestinationRules;
  private readonly authorizations: VapidAuthorizations;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(VAPID_KEYS) vapid: VapidKeys,
    private readonly jobs: JobQueue,
    private readonly pushes: PushRepository,
    private readonly presence: PresenceStore,
  ) {
    this.rules = { allowHttp: config.webhookAllowHttp, allowPrivate: config.webhookAllowPrivate };
    this.authorizations = new VapidAuthorizations(vapid);
    jobs.define('push-shard', ({ key }) => this.runShard(Number(key)), 'push');
    jobs.define('push', ({ key }) => this.runRetryLane(key));
    this.wakeForgotten = jobs.defineSweep('push', {
      wake: () => this.pushes.wakeForgotten(FORGOTTEN_AFTER_SECONDS),
      logger: this.logger,
      said: (woken) => `Woke the push jobs of ${woken} subscriptions whose pushes were waiting with none`,
    });
  }

  /** Pushes left waiting with no job to send them get one (see PushRepository.wakeForgotten). */
  readonly wakeForgotten: () => Promise<void>;

  private runShard(shard: number): Promise<void> {
    return runShardRounds<PushSending>({
      start: async () => {
        const taken = await this.pushes.takeShard(shard, SHARD_SUBSCRIPTIONS, READ_BATCH);
        if (taken.length === 0) return [];
        const presence = await this.presence.lookup([...new Set(taken.map((push) => push.userId))]);
        return [...groupBy(taken, (push) => push.subscriptionId).values()].map((waiting) =>
          this.sendAll(waiting, presence.get(waiting[0].userId)?.online ?? false),
        );
      },
      record: (ended) => this.recordShardRun(ended),
      finishLeft: (sending) => this.finishLeft(shard, sending),
      handOn: () => this.pushes.wakeShard(shard),
      outlive: (work) => this.jobs.outlive(work),
    });
  }

  /** What a shard run left sending, once it ends: recorded, its lease let go, and the shard woken for what waits. */
  private async finishLeft(shard: number, sending: PushSending): Promise<void> {
    await sending.finished;
    try {
      await this.recordShardRun([sending]);
      await this.pushes.wakeShard(shard);
    } catch (error) {
      // The lease lapses, and the minute's sweep wakes what waits.
      this.logger.warn(`Could not record the pushes left sending for subscription ${sending.subscriptionId}: ${(error as Error).message}`);
    }
  }

  private recordShardRun(sendings: readonly PushSending[]): Promise<void> {
    return this.pushes.recordShardRun(
      sendings.flatMap((sending) => sending.doneWith),
      sendings.map((sending) => sending.subscriptionId),
      sendings.filter(tookOne).map((sending) => sending.subscriptionId),
    );
  }

  /**
   * A failing subscription's own job. It runs under the subscription's lease (none: another run
   * has it, and looks again for what waits when it lets go). Pushes that came meanwhile, or more
   * than one read, get a new run then, in whichever lane the subscription is now, unless a
   * retry is scheduled or the subscription went.
   */
  private async runRetryLane(subscriptionId: string): Promise<void> {
    if (!(await this.pushes.lease(subscriptionId))) return;
    // A run whose reads throw is tried again by the queue, with its backoff.
    let ended: PushSending['ended'];
    try {
      const waiting = await this.pushes.waiting(subscriptionId, READ_BATCH);
      if (waiting.length === 0) return;
      const online = (await this.presence.lookup([waiting[0].userId])).get(waiting[0].userId)?.online ?? false;
      const sending = this.sendAll(waiting, online);
      await sending.finished;
      ended = sending.ended;
      if (ended !== 'gone') await this.pushes.done(subscriptionId, sending.doneWith, tookOne(sending));
    } finally {
      const { waiting, retrying } = await this.pushes.release(subscriptionId);
      if (waiting && ended === 'sent') await (retrying ? this.pushes.retryLater(subscriptionId, 0) : this.pushes.wakeShardOf(subscriptionId));
    }
  }

  /** Sends the newest waiting push of each conversation, in turn, until one fails or it is told to stop. */
  private sendAll(waiting: readonly WaitingPush[], online: boolean): PushSending {
    const subscriptionId = waiting[0].subscriptionId;
    const sending: PushSending = { subscriptionId, doneWith: [], succeeded: false, done: false, stop: false, finished: Promise.resolve() };
    const send = async (): Promise<PushSending['ended']> => {
      if (online) {
        sending.doneWith.push(...waiting.map((push) => push.id));
        return 'sent';
      }
      const started = performance.now();
      for (const [newest, superseded] of newestPerConversation(waiting)) {
        // The rest go in a later run, well within the lease.
        if (sending.stop || performance.now() - started > SENDING_MAX_MS) break;
        const outcome = await this.send(newest);
        if (outcome === 'gone') {
          await this.pushes.removeGone(subscriptionId);
          return 'gone';
        }
        if (outcome === 'retry') return (await this.failed(subscriptionId)) ? 'retrying' : 'sent';
        sending.doneWith.push(...superseded, newest.id);
        sending.succeeded ||= outcome === 'sent';
      }
      return 'sent';
    };
    sending.finished = send()
      .catch(async (error: Error) => {
        // Counted as a failed push, so that it is tried again with backoff rather than at once;
        // what was sent is recorded all the same. Should even that fail, the sweep finds the rest.
        this.logger.warn(`Sending pushes to subscription ${subscriptionId} failed: ${error.message}`);
        return this.failed(subscriptionId).then(
          (scheduled) => (scheduled ? 'retrying' : 'sent'),
          () => 'retrying' as const,
        );
      })
      .then((ended) => {
        sending.ended = ended;
        sending.done = true;
      });
    return sending;
  }

  private async send(push: WaitingPush): Promise<'sent' | 'dropped' | 'gone' | 'retry'> {
    let details;
    try {
      details = webpush.generateRequestDetails({ endpoint: push.endpoint, keys: { p256dh: push.p256dh, auth: push.auth } }, push.frame, {
        headers: { Authorization: this.authorizations.for(push.endpoint) },
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
      destination = await checkDestination(push.endpoint, this.rules, deliveryAnswers);
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

/** Whether the push service took a push and none failed after it: the subscription is healthy. */
function tookOne(sending: PushSending): boolean {
  return sending.succeeded && sending.ended === 'sent';
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(keyOf(item));
    if (group) group.push(item);
    else groups.set(keyOf(item), [item]);
  }
  return groups;
}

/**
 * Each conversation's newest push, with the ids of the older ones it supersedes, oldest
 * conversation first. It is urgent if any of them was (a mention followed by a chat message).
 */
function newestPerConversation(waiting: readonly WaitingPush[]): [WaitingPush, string[]][] {
  return [...groupBy(waiting, (push) => push.conversationId).values()].map((pushes) => [
    { ...pushes[pushes.length - 1], urgent: pushes.some((push) => push.urgent) },
    pushes.slice(0, -1).map((push) => push.id),
  ]);
}
