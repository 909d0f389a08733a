import { BeforeApplicationShutdown, Inject, Injectable, type Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { run, type Runner, type Task, type TaskList } from 'graphile-worker';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { quietWorkerLogger } from './worker-logger.js';
import { databaseUrl } from './worker-schema.js';

/**
 * Jobs in flight at once on one instance. They are mostly waiting on someone else's server (up to
 * 10 s each), not on this process, so many at once cost little; one destination has at most one
 * (its own queue), so a slow destination holds one of these and nothing else.
 */
const CONCURRENCY = 16;
/**
 * The worker's own connections, opened as needed: one listening for new jobs, the others fetching
 * and completing them (graphile-worker wants one per job in flight).
 */
export const JOB_QUEUE_CONNECTIONS = CONCURRENCY;
/**
 * Jobs due later (retries), and any whose nudge was lost with the instance that committed them,
 * are found by polling; new ones arrive at once by a nudge (NOTIFY), sent after the commit.
 */
const POLL_INTERVAL_MS = 1000;
/** Nudges within this are sent as one. */
const NUDGE_DELAY_MS = 50;
/**
 * Idle workers one nudge wakes on each instance. Each woken worker queries for a job, and a
 * worker that finds one keeps taking jobs until none is due, so a few suffice; waking all 16
 * after every batch of sends cost 16 queries per nudge, most of them finding nothing.
 */
const WORKERS_PER_NUDGE = 4;

/**
 * A feature's minute sweep for deliveries left waiting with no job to send them (a job woken
 * before a crash that lost it, a lease left by an instance that died): `wake` gives each of them
 * a job and says how many it woke, `said` what is logged when it woke any.
 */
export interface ForgottenSweep {
  wake: () => Promise<number>;
  logger: Pick<Logger, 'warn'>;
  said: (woken: number) => string;
}

/** What a job is given: the key it was added with (`wake_jobs(task, keys)`). */
export interface KeyedJob {
  key: string;
}

/**
 * The durable job queue: graphile-worker on Parley's PostgreSQL. Jobs are added by SQL in the
 * transaction whose commit they must follow (`SELECT wake_jobs(task, keys)`, see the webhooks
 * migration), so a committed change always has its jobs and a rolled-back one never; any instance
 * runs them. Features define their tasks (`define`) while the application is built; the worker
 * starts once it is up, and stops, letting running jobs finish, before the database closes.
 */
@Injectable()
export class JobQueue implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly tasks: TaskList = {};
  private readonly crontab: string[] = [];
  private runner: Runner | undefined;
  private pool: pg.Pool | undefined;
  private nudgeTimer: NodeJS.Timeout | undefined;
  private readonly outliving = new Set<Promise<void>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /** Registers a task, if this instance runs it or the feature it is `partOf` (JOB_QUEUE_TASKS). */
  define(name: string, task: (job: KeyedJob) => Promise<void>, partOf = name): void {
    if (this.runs(partOf)) this.tasks[name] = task as Task;
  }

  /**
   * Work a job started and left running when it ended (a request it stopped waiting for):
   * shutdown waits for it before the job queue's connections close. It must not throw.
   */
  outlive(work: Promise<void>): void {
    this.outliving.add(work);
    void work.finally(() => this.outliving.delete(work));
  }

  /**
   * Registers `<partOf>-sweep`, run once a minute on one of the instances that run `partOf`
   * (graphile-worker's crontab, which records each run in the database so that instances do not
   * double it).
   */
  defineSweep(partOf: string, sweep: ForgottenSweep): () => Promise<void> {
    const run = async () => {
      const woken = await sweep.wake();
      if (woken === 0) return;
      sweep.logger.warn(sweep.said(woken));
      this.nudge();
    };
    if (this.runs(partOf)) {
      this.tasks[`${partOf}-sweep`] = (() => run()) as Task;
      this.crontab.push(`* * * * * ${partOf}-sweep`);
    }
    return run;
  }

  private runs(name: string): boolean {
    const { jobQueueTasks } = this.config;
    return jobQueueTasks === 'all' || jobQueueTasks.includes(name);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (Object.keys(this.tasks).length === 0) return;
    this.pool = new pg.Pool({
      connectionString: databaseUrl(this.dataSource),
      max: JOB_QUEUE_CONNECTIONS,
      // Taking and finishing a job is a commit each: on PostgreSQL they need not wait for the WAL
      // flush, which the sends' commits queued behind. A crash of PostgreSQL may then forget the
      // last moment's job states, and their jobs run again: deliveries are at least once anyway.
      // No bitmap scans: the deliveries' tables are queues, whose sent rows are deleted by the
      // thousand between two vacuums. An index scan marks the dead entries it passes, so the next
      // read skips them; a bitmap scan visits each again on every read (10 ms a shard read, not
      // 0.2, after a backlog of 20,000 was sent). (The embedded database serves every connection
      // from one session: there the sends' would change too, so it is left alone.)
      ...(this.config.databaseUrl ? { options: '-c synchronous_commit=off -c enable_bitmapscan=off' } : {}),
    });
    this.runner = await run({
      pgPool: this.pool,
      taskList: this.tasks,
      crontab: this.crontab.join('\n'),
      concurrency: CONCURRENCY,
      pollInterval: POLL_INTERVAL_MS,
      noHandleSignals: true,
      // Named prepared statements of graphile-worker's collide on a pooled connection under
      // concurrency ("prepared statement complete_job_q already exists", and the worker exits);
      // the embedded database serves every connection from one session anyway.
      noPreparedStatements: true,
      logger: quietWorkerLogger,
    });
  }

  /**
   * Wakes idle workers on every instance: jobs added by `wake_jobs` (which does not NOTIFY, see the
   * webhooks migration) may be waiting. Called after commits that may have added some; sent as a
   * statement of its own, never inside a send's transaction.
   */
  nudge(): void {
    if (this.nudgeTimer) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = undefined;
      // Lost (the database busy or gone)? The workers' polling finds the jobs within a second.
      this.dataSource.query(`SELECT pg_notify('jobs:insert', $1)`, [JSON.stringify({ count: WORKERS_PER_NUDGE })]).catch(() => undefined);
    }, NUDGE_DELAY_MS);
  }

  /**
   * A statement of a running job's own bookkeeping that may be lost if PostgreSQL crashes (it
   * commits without waiting for the WAL flush, as the queue's do): what it records is then done
   * once more, which at-least-once deliveries allow. Only for use inside a task.
   */
  async bookkeeping(sql: string, parameters: unknown[]): Promise<void> {
    await this.query(sql, parameters);
  }

  /**
   * A statement of a running job, on the queue's own connections, so that deliveries never wait
   * for (or hold) a connection of the requests' pool. It commits as `bookkeeping` does. Only for
   * use inside a task.
   */
  async query<Row>(sql: string, parameters: unknown[]): Promise<Row[]> {
    if (!this.pool) throw new Error('a job statement outside a job: this instance runs no tasks');
    return (await this.pool.query(sql, parameters)).rows as Row[];
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearTimeout(this.nudgeTimer);
    await this.runner?.stop();
    await Promise.all(this.outliving);
    await this.pool?.end();
  }
}
