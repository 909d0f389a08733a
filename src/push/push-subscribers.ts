import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { RefreshedIdSet } from '../common/refreshed-id-set.js';
import { WakeAfterCommit } from '../jobs/wake-after-commit.js';
import { PushRepository } from './push.repository.js';

/** How often the set is read again (a subscription made on another instance). */
const REFRESH_MS = 5000;

/**
 * The users with a push subscription, held in memory: a message to any of them may have queued
 * pushes in its transaction (the messages trigger of the web-push migration), so the job
 * workers are nudged after its commit; a message to none of them costs nothing more.
 */
@Injectable()
export class PushSubscribers implements OnModuleInit, OnModuleDestroy {
  private readonly set: RefreshedIdSet;

  constructor(pushes: PushRepository, wake: WakeAfterCommit) {
    this.set = new RefreshedIdSet(() => pushes.subscriberIds(), REFRESH_MS, new Logger(PushSubscribers.name), 'the users with push subscriptions');
    wake.whenMessageTo((userIds) => this.set.among(userIds).length > 0);
  }

  onModuleInit(): Promise<void> {
    return this.set.start();
  }

  onModuleDestroy(): void {
    this.set.stop();
  }

  reload(): Promise<void> {
    return this.set.reload();
  }
}
