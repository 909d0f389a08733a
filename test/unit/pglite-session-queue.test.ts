import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteSessionQueue } from '../../src/database/pglite-session-queue.js';
import { wire } from '../support/pg-wire.js';

const query = wire.query;

describe('PgliteSessionQueue', () => {
  let db: PGlite;
  beforeAll(async () => {
    db = await PGlite.create();
  });
  afterAll(async () => {
    await db.close();
  });

  it('survives a connection detached twice while another holds the session', async () => {
    const queue = new PgliteSessionQueue(db);
    const ignore = () => {};
    await queue.enqueue(1, query('BEGIN'), ignore); // connection 1 now has the session

    // Connection 2 waits for the session, then goes: an error, then its close, as pglite-socket
    // reports them. Each detach clears its queue and asks for a release.
    const waiting = queue.enqueue(2, query('SELECT 1'), ignore);
    queue.clearQueueForHandler(2);
    const firstRelease = queue.clearTransactionIfNeeded(2);
    queue.clearQueueForHandler(2);
    const secondRelease = queue.clearTransactionIfNeeded(2);
    await expect(waiting).rejects.toThrow('Handler disconnected');

    // Connection 1 finishes; both releases complete rather than one being rejected unheard.
    await queue.enqueue(1, query('COMMIT'), ignore);
    await expect(Promise.all([firstRelease, secondRelease])).resolves.toEqual([undefined, undefined]);
    expect(queue.getQueueLength()).toBe(0);

    // And the session is free for the next connection.
    let answer = Buffer.alloc(0);
    await queue.enqueue(3, query("SELECT 'free'"), (data) => (answer = Buffer.concat([answer, Buffer.from(data)])));
    expect(answer.includes(Buffer.from('free'))).toBe(true);
  });
});
