import type { MigrationInterface, QueryRunner } from 'typeorm';
import { wakeJobs } from './1766560000000-push-leases.js';

/**
 * `wake_jobs` first locks the jobs that hold its keys, as before, and returns there when every
 * one of them is waiting to run: under load that is nearly every call (the first send after a
 * run began gave its key to a new job), and each send's statement paid for the task and queue
 * inserts, the update and the job insert that then did nothing (bench/HISTORY.md, 2026-12-07
 * 20:35). Otherwise it does what it did (the push-leases migration's body, locks included).
 */
export class WakeJobsFastPath1766580000000 implements MigrationInterface {
  name = 'WakeJobsFastPath1766580000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(wakeJobs(true, true));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(wakeJobs(true));
  }
}
