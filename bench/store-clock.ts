import { performance } from 'node:perf_hooks';
import pg from 'pg';

/**
 * When PostgreSQL stored each message, on the harness's own clock, so that a notification's
 * latency can be taken from the database side of the send (commit→receive) and not only from
 * the harness's POST.
 *
 * A message's `created_at` is `now()`, the start of the transaction that stored it: it comes
 * before the commit, so "frame arrival − created_at" is an upper bound on commit→receive (it
 * also holds the statement's own run and, in a batch, the rest of the batch). The two clocks
 * are lined up by asking PostgreSQL for `clock_timestamp()` several times and keeping the
 * answer with the shortest round trip; half that round trip bounds the error of the line-up.
 */
export class StoreClock {
  private constructor(
    private readonly client: pg.Client,
    /** PostgreSQL's epoch milliseconds minus the harness's performance.now(), at the line-up. */
    private offsetMs: number,
    /** Half the best line-up's round trip: how far the offset can be off. */
    public uncertaintyMs: number,
  ) {}

  /** How much the offset moved at the last line-up: the clocks' drift since the one before. */
  driftMs = 0;

  static async open(url: string): Promise<StoreClock> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const clock = new StoreClock(client, 0, Infinity);
    await clock.lineUp();
    clock.driftMs = 0;
    return clock;
  }

  /** Lines the clocks up again (before each phase: they could drift apart over a long run). */
  async lineUp(samples = 30): Promise<void> {
    let best = { roundTrip: Infinity, offset: 0 };
    for (let i = 0; i < samples; i++) {
      const before = performance.now();
      const { rows } = await this.client.query<{ ms: string }>(`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::text AS ms`);
      const after = performance.now();
      if (after - before < best.roundTrip) best = { roundTrip: after - before, offset: Number(rows[0].ms) - (before + after) / 2 };
    }
    this.driftMs = best.offset - this.offsetMs;
    this.offsetMs = best.offset;
    this.uncertaintyMs = best.roundTrip / 2;
  }

  /** Each message's `created_at` as a harness performance.now() time; ids not found are left out. */
  async storedAt(ids: string[]): Promise<Map<string, number>> {
    const stored = new Map<string, number>();
    for (let i = 0; i < ids.length; i += 10_000) {
      const { rows } = await this.client.query<{ id: string; ms: string }>(
        `SELECT id::text, (extract(epoch FROM created_at) * 1000)::text AS ms FROM messages WHERE id = ANY ($1::bigint[])`,
        [ids.slice(i, i + 10_000)],
      );
      for (const row of rows) stored.set(row.id, Number(row.ms) - this.offsetMs);
    }
    return stored;
  }

  close(): Promise<void> {
    return this.client.end();
  }
}
