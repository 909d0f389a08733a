import { performance } from 'node:perf_hooks';

/**
 * A shard run takes, sends and records in rounds this far apart while work keeps coming, so that
 * each round carries what came meanwhile, and hands on to a new job after SHARD_RUN_MS so that
 * other jobs get a turn. A round costs a read and a record whatever it carries: the gap is the
 * longest a delivery waits under load, traded for fewer of those statements (the measurements
 * are in docs/performance.md). A run's first round is at once, so a quiet shard's wait is none.
 */
const SHARD_ROUND_EVERY_MS = 200;
const SHARD_RUN_MS = 2000;
/**
 * How long a round waits for its destinations. One still sending then is left to end on its
 * own, its destination leased meanwhile: a slow one holds up its own deliveries and no one else's.
 */
const SHARD_RUN_WAIT_MS = 1000;

/** One destination's deliveries in a round. */
export interface Sending {
  /** Settles when the sending has ended, whatever became of it (never rejects). */
  finished: Promise<void>;
  /** Whether it has ended. */
  done: boolean;
  /** Set when the round stops waiting: what is in flight ends, and nothing more is started. */
  stop: boolean;
}

/** What a shard's deliveries do in each round (the webhooks' and the pushes' shard lanes). */
export interface ShardLane<S extends Sending> {
  /** Takes what waits and starts sending it, a sending per destination; none: the run ends. */
  start(): Promise<S[]>;
  /** Records a round, when it has waited: `ended` are done, `sending` go on on their own. */
  record(ended: S[], sending: S[]): Promise<void>;
  /** Sees a sending the round stopped waiting for to its end (it must not throw). */
  finishLeft(sending: S): Promise<void>;
  /** Wakes a new job for the shard: the run took its time and work may still wait. */
  handOn(): Promise<void>;
  /** Work to wait for before the job queue closes. */
  outlive(work: Promise<void>): void;
}

/** Runs a shard job's rounds (see ShardLane), until a round finds nothing or the run has had its time. */
export async function runShardRounds<S extends Sending>(lane: ShardLane<S>): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < SHARD_RUN_MS) {
    const roundStarted = performance.now();
    const sendings = await lane.start();
    if (sendings.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(sendings.map((sending) => sending.finished)),
      new Promise((resolve) => (timer = setTimeout(resolve, SHARD_RUN_WAIT_MS))),
    ]);
    clearTimeout(timer);
    const left = sendings.filter((sending) => !sending.done);
    await lane.record(sendings.filter((sending) => sending.done), left);
    for (const sending of left) {
      sending.stop = true;
      lane.outlive(lane.finishLeft(sending));
    }
    const pause = SHARD_ROUND_EVERY_MS - (performance.now() - roundStarted);
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  await lane.handOn();
}
