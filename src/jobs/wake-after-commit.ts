import { Injectable } from '@nestjs/common';
import { Notifier } from '../notifications/notifier.js';
import { JobQueue } from './job-queue.js';

/** Whether a message to these users may have added jobs in its transaction. */
export type MayHaveJobs = (userIds: readonly string[]) => boolean;

/**
 * Nudges the workers after a committed message whose transaction may have added jobs (its
 * publish follows its commit): each feature whose triggers add jobs says for which recipients,
 * from what it holds in memory, so a message to users with no webhook and no push subscription
 * costs no statement. A nudge missed (a subscription made on another instance a moment ago) only
 * waits for the workers' polling, at most a second.
 */
@Injectable()
export class WakeAfterCommit {
  private readonly checks: MayHaveJobs[] = [];

  constructor(notifier: Notifier, jobs: JobQueue) {
    notifier.onPublish((userIds, frame) => {
      if (frame.type === 'message.created' && this.checks.some((mayHaveJobs) => mayHaveJobs(userIds))) jobs.nudge();
    });
  }

  /** Registers a feature's check, while the application is built. */
  whenMessageTo(mayHaveJobs: MayHaveJobs): void {
    this.checks.push(mayHaveJobs);
  }
}
