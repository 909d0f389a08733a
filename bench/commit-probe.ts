import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { sleep, summarize, type Summary } from './clients.js';

/** A commit of the probe's that took longer than STALL_MS, on the harness's clock. */
export interface CommitStall {
  /** When its INSERT was sent (performance.now()). */
  start: number;
  ms: number;
}

export interface CommitProbeResult {
  intervalMs: number;
  /** Each commit's round trip, ms. */
  commitMs: Summary;
  /** Commits over STALL_MS. */
  stalls: CommitStall[];
  /** Why probing stopped early, if it did. */
  error?: string;
}

/** A commit this slow is a stall: a one-row commit here takes about 1 ms (p50) and 5 ms (p99). */
export const STALL_MS = 20;

/**
 * The database's own commit latency while a phase runs: a one-row INSERT, committed on a
 * connection of its own, every `intervalMs`. Each commit waits for PostgreSQL's WAL flush
 * (`fdatasync`), and on this VM a flush now and then takes 50–600 ms with nothing else running;
 * a send that commits in such a moment waits as long whatever Parley does. The probe shows when
 * that happened, so that a latency tail can be told apart from the server's own.
 *
 * It adds 1000 / `intervalMs` small commits a second to the phase; each is a WAL flush that a
 * send committing at the same moment may wait behind (for about a millisecond).
 */
export class CommitProbe {
  private readonly commits: number[] = [];
  private readonly stalls: CommitStall[] = [];
  private running = true;
  private readonly loop: Promise<void>;
  private stopped?: Promise<CommitProbeResult>;
  private error?: string;

  private constructor(
    private readonly client: pg.Client,
    private readonly intervalMs: number,
  ) {
    this.loop = this.run();
  }

  static async start(url: string, intervalMs = 20): Promise<CommitProbe> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('CREATE TABLE IF NOT EXISTS bench_commit_probe (id bigserial PRIMARY KEY)');
    } catch (error) {
      await client.end();
      throw error;
    }
    return new CommitProbe(client, intervalMs);
  }

  /** Probes until stopped; a failed commit ends the probing and is reported, not thrown. */
  private async run(): Promise<void> {
    try {
      while (this.running) {
        const start = performance.now();
        await this.client.query('INSERT INTO bench_commit_probe DEFAULT VALUES');
        const ms = performance.now() - start;
        this.commits.push(ms);
        if (ms > STALL_MS) this.stalls.push({ start, ms });
        await sleep(this.intervalMs);
      }
    } catch (error) {
      this.error = (error as Error).message;
    }
  }

  /** Stops probing and closes its connection; later calls return the same result. */
  stop(): Promise<CommitProbeResult> {
    this.running = false;
    return (this.stopped ??= this.loop
      .finally(() => this.client.end())
      .then(() => ({ intervalMs: this.intervalMs, commitMs: summarize(this.commits), stalls: this.stalls, error: this.error })));
  }
}

/** How many of these windows (performance.now() times) a stall overlapped. */
export function windowsHitByStalls(windows: Array<{ start: number; end: number }>, stalls: CommitStall[]): number {
  return windows.filter((window) => stalls.some((stall) => stall.start < window.end && stall.start + stall.ms > window.start)).length;
}
