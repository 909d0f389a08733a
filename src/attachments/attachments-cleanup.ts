import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { AttachmentsRepository } from './attachments.repository.js';
import { Clock } from './clock.js';
import { AttachmentStorage } from './storage/attachment-storage.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How long an upload may stay `storing` before its process is taken for dead. */
const STORING_GRACE_MS = 60 * 60 * 1000;
/** Staging files older than this belong to no upload still running (a crash left them). */
const STAGING_GRACE_MS = DAY_MS;
const BATCH = 100;

export interface CleanupReport {
  /** False when another instance held the job's lock. */
  ran: boolean;
  /** Uploads never attached, marked removed this run. */
  expired: number;
  /** Attachments whose files were deleted (and rows with them). */
  deleted: number;
  /** Staging files left by a crash, deleted. */
  staging: number;
}

/**
 * The attachments' periodic job, every ATTACHMENT_CLEANUP_INTERVAL_MS, on one instance at a
 * time (a PostgreSQL advisory lock; an instance that finds it taken skips its turn):
 *
 * 1. uploads never attached a day after they were made are marked removed, and rows left
 *    `storing` an hour by a process that died on the way;
 * 2. every removed attachment (its message deleted, dropped by an edit, removed by an admin,
 *    or expired in 1) has its files deleted from the storage, then its row.
 *
 * A row goes only after its files: a run cut short leaves rows that the next run finishes.
 * The time is the Clock's, which tests move forward instead of waiting a day.
 */
@Injectable()
export class AttachmentsCleanup implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AttachmentsCleanup.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<CleanupReport>;

  constructor(
    private readonly attachments: AttachmentsRepository,
    private readonly storage: AttachmentStorage,
    private readonly clock: Clock,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.runOnce().catch((error) => this.logger.error(`Cleanup failed: ${(error as Error).message}`)), this.config.attachmentCleanupIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One run (a run already under way in this process is joined, not doubled). */
  runOnce(): Promise<CleanupReport> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<CleanupReport> {
    const report: CleanupReport = { ran: false, expired: 0, deleted: 0, staging: await this.sweepStaging() };
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.connect();
      if (!(await this.attachments.tryLockCleanup(runner))) return report;
      report.ran = true;
      try {
        const now = this.clock.now();
        report.expired = await this.attachments.removeUnattachedBefore(new Date(now - DAY_MS));
        await this.attachments.removeStoringBefore(new Date(now - STORING_GRACE_MS));
        report.deleted = await this.deleteRemoved();
      } finally {
        await this.attachments.unlockCleanup(runner);
      }
    } finally {
      await runner.release();
    }
    if (report.expired || report.deleted || report.staging) {
      this.logger.log(`Attachments cleanup: ${report.expired} expired uploads, ${report.deleted} removed attachments' files deleted, ${report.staging} staging files`);
    }
    return report;
  }

  private async deleteRemoved(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const batch = await this.attachments.findRemoved(BATCH);
      if (batch.length === 0) return deleted;
      const done: string[] = [];
      for (const attachment of batch) {
        try {
          await this.storage.delete(attachment.storageKey);
          if (attachment.thumbnailKey) await this.storage.delete(attachment.thumbnailKey);
          done.push(attachment.id);
        } catch (error) {
          this.logger.warn(`Could not delete the files of attachment ${attachment.id}: ${(error as Error).message}`);
        }
      }
      await this.attachments.deleteRemoved(done);
      deleted += done.length;
      // Whatever failed is tried again next run, not in a loop now.
      if (done.length < batch.length || batch.length < BATCH) return deleted;
    }
  }

  /** Staging files a crash left behind (this instance's directory; no lock needed). */
  private async sweepStaging(): Promise<number> {
    const dir = this.storage.stagingDir;
    const before = this.clock.now() - STAGING_GRACE_MS;
    let swept = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const file = path.join(dir, name);
      const info = await stat(file).catch(() => undefined);
      if (info?.isFile() && info.mtimeMs < before) {
        await rm(file, { force: true });
        swept++;
      }
    }
    return swept;
  }
}
