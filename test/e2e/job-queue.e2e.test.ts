import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ownDatabase } from '../support/own-database.js';

/**
 * `wake_jobs(task, keys, in_queues)` (the webhooks and push-leases migrations), the enqueue that
 * sends and other changes run in their own transaction, against graphile-worker's tables on the
 * test PostgreSQL: in a database of its own, as it holds a transaction open while it looks (and no
 * app's worker is there to take the jobs). Not on the embedded database: it serves every
 * connection from one session, so a second connection waits for the first one's transaction.
 */
const TASK = `wake-test-${process.pid}`;

let database: Awaited<ReturnType<typeof ownDatabase>>;
let waker: pg.Client;
let worker: pg.Client;

beforeAll(async () => {
  if (!process.env.TEST_DATABASE_URL) return;
  database = await ownDatabase('job_queue'); // migrated, graphile-worker's schema included
  // A statement that waits on a lock fails in 5 s rather than hanging the file.
  const client = () => new pg.Client({ connectionString: database?.url ?? inject('databaseUrl'), statement_timeout: 5000 });
  [waker, worker] = [client(), client()];
  await Promise.all([waker.connect(), worker.connect()]);
});

afterAll(async () => {
  await worker
    ?.query(`DELETE FROM graphile_worker._private_jobs WHERE task_id = (SELECT id FROM graphile_worker._private_tasks WHERE identifier = $1)`, [TASK])
    .catch(() => undefined);
  await Promise.all([waker?.end(), worker?.end()]);
  await database?.drop();
});

/** What graphile-worker's get_job does to take a job: skip it if it is locked, else lock it. */
async function take(key: string): Promise<string | undefined> {
  const taken = await worker.query(
    `UPDATE graphile_worker._private_jobs SET locked_at = now(), locked_by = 'test', attempts = attempts + 1
      WHERE id = (SELECT id FROM graphile_worker._private_jobs WHERE key = $1 AND is_available FOR UPDATE SKIP LOCKED)
      RETURNING id::text`,
    [key],
  );
  return taken.rows[0]?.id;
}

/** This file's jobs for one key, oldest first: the one holding the key, and any it was taken from. */
const jobs = async (key: string) =>
  (
    await worker.query(
      `SELECT j.id::text, j.key, j.locked_at IS NOT NULL AS running
         FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
        WHERE t.identifier = $1 AND j.payload->>'key' = $2
        ORDER BY j.id`,
      [TASK, key],
    )
  ).rows;

describe.runIf(process.env.TEST_DATABASE_URL)('wake_jobs', () => {
  it('adds one job per key, and leaves a waiting one as it is', async () => {
    await waker.query(`SELECT wake_jobs($1, ARRAY['a', 'a', 'b'])`, [TASK]);
    const [a] = await jobs('a');
    expect(a).toMatchObject({ key: `${TASK}:a`, running: false });
    expect(await jobs('b')).toHaveLength(1);
    await waker.query(`SELECT wake_jobs($1, ARRAY['a'])`, [TASK]);
    expect(await jobs('a')).toEqual([a]);
  });

  it('keeps a waiting job from being taken until the waker commits, so its run sees what was queued', async () => {
    await waker.query(`SELECT wake_jobs($1, ARRAY['c'])`, [TASK]);
    await waker.query('BEGIN');
    await waker.query(`SELECT wake_jobs($1, ARRAY['c'])`, [TASK]);
    // A worker looking for it now skips it: were it taken, its run could end before the
    // waker's rows were visible, and they would wait with no job.
    expect(await take(`${TASK}:c`)).toBeUndefined();
    await waker.query('COMMIT');
    expect(await take(`${TASK}:c`)).toBeDefined();
  });

  it('gives a running job’s key to a new job, which runs after it', async () => {
    await waker.query(`SELECT wake_jobs($1, ARRAY['d'])`, [TASK]);
    const running = await take(`${TASK}:d`);
    expect(running).toBeDefined();
    await waker.query(`SELECT wake_jobs($1, ARRAY['d'])`, [TASK]);
    const all = await jobs('d');
    expect(all).toHaveLength(2);
    expect(all[0]).toMatchObject({ id: running, key: null, running: true });
    expect(all[1]).toMatchObject({ key: `${TASK}:d`, running: false });
  });

  it('wakes keys in one call whatever their jobs are doing: a waiting one is left, a running one handed on, a new one added', async () => {
    await waker.query(`SELECT wake_jobs($1, ARRAY['g', 'h'])`, [TASK]);
    const [waiting] = await jobs('g');
    const running = await take(`${TASK}:h`);
    expect(running).toBeDefined();
    await waker.query(`SELECT wake_jobs($1, ARRAY['i', 'h', 'g'])`, [TASK]);
    expect(await jobs('g')).toEqual([waiting]);
    const h = await jobs('h');
    expect(h).toHaveLength(2);
    expect(h[0]).toMatchObject({ id: running, key: null, running: true });
    expect(h[1]).toMatchObject({ key: `${TASK}:h`, running: false });
    expect(await jobs('i')).toMatchObject([{ key: `${TASK}:i`, running: false }]);
    // Every job waiting now: the call only locks them, until it commits.
    await waker.query('BEGIN');
    await waker.query(`SELECT wake_jobs($1, ARRAY['g', 'h', 'i'])`, [TASK]);
    expect(await take(`${TASK}:i`)).toBeUndefined();
    await waker.query('COMMIT');
    expect(await jobs('g')).toEqual([waiting]);
    expect(await take(`${TASK}:i`)).toBeDefined();
  });

  it('puts each job in a queue named after its key, or with in_queues false in none', async () => {
    await waker.query(`SELECT wake_jobs($1, ARRAY['e'])`, [TASK]);
    await waker.query(`SELECT wake_jobs($1, ARRAY['f'], in_queues => false)`, [TASK]);
    const queueOf = async (key: string) =>
      (
        await worker.query(
          `SELECT q.queue_name AS queue FROM graphile_worker._private_jobs j
             LEFT JOIN graphile_worker._private_job_queues q ON q.id = j.job_queue_id WHERE j.key = $1`,
          [key],
        )
      ).rows;
    expect(await queueOf(`${TASK}:e`)).toEqual([{ queue: `${TASK}:e` }]);
    expect(await queueOf(`${TASK}:f`)).toEqual([{ queue: null }]);
    const queues = await worker.query(`SELECT count(*)::int AS n FROM graphile_worker._private_job_queues WHERE queue_name = $1`, [`${TASK}:f`]);
    expect(queues.rows[0].n).toBe(0);
  });
});
