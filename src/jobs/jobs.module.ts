import { Global, Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { JobQueue } from './job-queue.js';
import { WakeAfterCommit } from './wake-after-commit.js';

/** The durable job queue, for every feature that must do something after a commit, reliably. */
@Global()
@Module({
  imports: [NotificationsModule],
  providers: [JobQueue, WakeAfterCommit],
  exports: [JobQueue, WakeAfterCommit],
})
export class JobsModule {}
