import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { Caller } from '../../src/common/caller/caller.js';
import { TokenService } from '../../src/auth/token.service.js';
import { Metrics } from '../../src/metrics/metrics.service.js';
import { MessagesRepository } from '../../src/messages/messages.repository.js';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newGroup, newUser, send, tokenClaims, type TestUser } from '../support/factories.js';

// Sends, reads of single messages and authentication reads made while a batch of their kind
// is running join the next statement (MessagesRepository, TokenService). These tests call
// those services directly, so that they decide which calls share a batch: the first call of a
// burst runs alone, the rest wait for it and go together.

let app: TestApp;
let repository: MessagesRepository;
let db: pg.Client;

beforeAll(async () => {
  app = await startApp();
  repository = app.app.get(MessagesRepository);
  db = new pg.Client({ connectionString: inject('databaseUrl') });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await app?.close();
});

const caller = (user: TestUser, tokenVersion = 0): Caller => ({
  id: user.id,
  tokenVersion,
  sessionId: user.sessionId,
  expiresAt: tokenClaims(user.token).exp,
});

async function batchSizes(): Promise<{ count: number; sum: number }> {
  const { values } = await app.app.get(Metrics).sendBatchSize.get();
  const value = (name: string) => values.find((v) => v.metricName === name)?.value ?? 0;
  return { count: value('parley_send_batch_size_count'), sum: value('parley_send_batch_size_sum') };
}

async function seqsOf(conversationId: string): Promise<{ seq: number; body: string }[]> {
  const { rows } = await db.query('SELECT seq::int, body FROM messages WHERE conversation_id = $1 ORDER BY seq', [conversationId]);
  return rows;
}

describe('sends batched into one statement', () => {
  it('answers each send of a batch for itself: stored in order with gapless seqs, or refused alone', async () => {
    const [a, b, c, outsider] = [await newUser(app), await newUser(app), await newUser(app), await newUser(app)];
    const warmUp = await newDirect(app, b, c);
    const group = await newGroup(app, a, [b, c]);
    const direct = await newDirect(app, a, b);
    await repository.insert(direct, caller(a), 'sent before', 'already-sent');
    const before = await batchSizes();

    const calls = [
      // This one runs alone, at once; the rest wait for it and share one statement.
      repository.insert(warmUp, caller(b), 'alone'),
      repository.insert(warmUp, caller(c), 'batched'),
      repository.insert(group, caller(a), 'g1'),
      repository.insert(direct, caller(a), 'd1', 'twice'),
      repository.insert(group, caller(outsider), 'not a member'),
      repository.insert(group, caller(b), 'g2'),
      repository.insert(direct, caller(a), 'd1 again', 'twice'),
      repository.insert(group, caller(c, 1), 'stale token version'),
      repository.insert(group, caller(c), 'g3'),
      repository.insert(direct, caller(a), 'retried', 'already-sent'),
      repository.insert(direct, caller(b), 'd2'),
      repository.insert(group, caller(a), 'g4'),
    ];
    const sent = await Promise.all(calls);

    const after = await batchSizes();
    expect(after.count - before.count).toBe(2);
    expect(after.sum - before.sum).toBe(calls.length);

    expect(sent.map((message) => message?.body)).toEqual([
      'alone', 'batched', 'g1', 'd1', undefined, 'g2', undefined, undefined, 'g3', undefined, 'd2', 'g4',
    ]);
    expect(await seqsOf(group)).toEqual([
      { seq: 1, body: 'g1' }, { seq: 2, body: 'g2' }, { seq: 3, body: 'g3' }, { seq: 4, body: 'g4' },
    ]);
    expect(await seqsOf(direct)).toEqual([
      { seq: 1, body: 'sent before' }, { seq: 2, body: 'd1' }, { seq: 3, body: 'd2' },
    ]);
    for (const message of sent.filter((m) => m !== undefined)) {
      expect(message.changeSeq).toBe(message.seq);
      const expected = message.conversationId === group ? [a, b, c] : message.conversationId === direct ? [a, b] : [b, c];
      expect([...message.memberIds].sort()).toEqual(expected.map((u) => u.id).sort());
    }

    // The counters moved by exactly what was stored, and each sender has read up to its own last message.
    const { rows: counters } = await db.query('SELECT last_seq::int, last_change_seq::int FROM conversations WHERE id = $1', [group]);
    expect(counters[0]).toEqual({ last_seq: 4, last_change_seq: 4 });
    const { rows: read } = await db.query(
      'SELECT user_id::text AS "userId", last_read_seq::int AS "lastReadSeq" FROM conversation_members WHERE conversation_id = $1',
      [group],
    );
    expect(Object.fromEntries(read.map((r) => [r.userId, r.lastReadSeq]))).toEqual({ [a.id]: 4, [b.id]: 2, [c.id]: 3 });
    expect((await send(app, b, group, 'next')).seq).toBe(5);
  });
});

describe('reads of single messages batched into one statement', () => {
  it('answers each caller for itself: only members active at their token version see a message', async () => {
    const [a, b, outsider] = [await newUser(app), await newUser(app), await newUser(app)];
    const direct = await newDirect(app, a, b);
    const [first, second] = [await send(app, a, direct, 'first'), await send(app, b, direct, 'second')];
    const found = await Promise.all([
      // The first runs alone; the rest share the next statement.
      repository.findVisibleTo(caller(a), first.id),
      repository.findVisibleTo(caller(b), first.id),
      repository.findVisibleTo(caller(outsider), first.id),
      repository.findVisibleTo(caller(a), second.id),
      repository.findVisibleTo(caller(b, 1), second.id),
      repository.findVisibleTo(caller(a), '999999999999'),
      repository.findVisibleTo(caller(b), second.id),
    ]);
    expect(found.map((message) => message?.body)).toEqual(['first', 'first', undefined, 'second', undefined, undefined, 'second']);
  });
});

describe('authentication reads batched into one statement', () => {
  it('answers each token for itself: a revoked or deactivated user gets 401, the others their user', async () => {
    const tokens = app.app.get(TokenService);
    const [a, b, revoked, deactivated] = [await newUser(app), await newUser(app), await newUser(app), await newUser(app)];
    await db.query('UPDATE users SET token_version = token_version + 1 WHERE id = $1', [revoked.id]);
    await db.query('UPDATE users SET active = false WHERE id = $1', [deactivated.id]);
    const answers = await Promise.all(
      // The first runs alone; the rest share the next statement.
      [a, b, revoked, a, deactivated, b].map((user) =>
        tokens.authenticate(user.token).then(
          (found) => found.username,
          (error: Error) => error.constructor.name,
        ),
      ),
    );
    expect(answers).toEqual([a.username, b.username, 'UnauthorizedException', a.username, 'UnauthorizedException', b.username]);
  });
});

// An open transaction on a second connection holds a clientMessageId that a batch then tries
// to store: only a real PostgreSQL lets that transaction and the batch run side by side.
describe.runIf(process.env.TEST_DATABASE_URL)('a batch that collides with a concurrent send', () => {
  it('is run again send by send, so only the colliding send is refused', async () => {
    const [a, b, c] = [await newUser(app), await newUser(app), await newUser(app)];
    const [warmUp, direct, elsewhere] = [await newDirect(app, b, c), await newDirect(app, a, b), await newGroup(app, a, [b])];
    // A send into another conversation, by the same sender with the same clientMessageId, left
    // open until the batch has started: the batch cannot see it and waits on the unique index.
    await db.query('BEGIN');
    await db.query(`SELECT FROM send_messages($1, $2, '{0}', $3, '{from elsewhere}', '{collides}', '{NULL}', '{NULL}')`, [[elsewhere], [a.id], [a.sessionId]]);
    const calls = [
      repository.insert(warmUp, caller(b), 'alone'),
      repository.insert(direct, caller(a), 'batched 1'),
      repository.insert(direct, caller(a), 'collides', 'collides'),
      repository.insert(direct, caller(b), 'batched 2'),
    ].map((call) => call.then((message) => message?.body ?? 'refused', (error: { code?: string }) => `error ${error.code}`));
    await untilSomeoneWaitsForThisTransaction();
    await db.query('COMMIT');

    // The batch failed with a unique violation; run again alone, the colliding send finds the
    // committed message and is refused, and the other two are stored. Run alone, they run side
    // by side, so which of the two takes seq 1 is not fixed (neither had been answered yet).
    expect(await Promise.all(calls)).toEqual(['alone', 'batched 1', 'refused', 'batched 2']);
    const stored = await seqsOf(direct);
    expect(stored.map((message) => message.seq)).toEqual([1, 2]);
    expect(stored.map((message) => message.body).sort()).toEqual(['batched 1', 'batched 2']);
    expect(await seqsOf(elsewhere)).toEqual([{ seq: 1, body: 'from elsewhere' }]);
  });
});

// A conversation locked by a transaction left open on another connection.
describe.runIf(process.env.TEST_DATABASE_URL)('a batch held up by a conversation another transaction has locked', () => {
  it('gives up after the lock timeout, stores the other sends, and answers the busy one 503', async () => {
    const [a, b, c] = [await newUser(app), await newUser(app), await newUser(app)];
    const [warmUp, busy, free] = [await newDirect(app, b, c), await newDirect(app, a, b), await newDirect(app, a, c)];
    await db.query('BEGIN');
    await db.query('SELECT FROM conversations WHERE id = $1 FOR UPDATE', [busy]);
    const calls = [
      repository.insert(warmUp, caller(b), 'alone'),
      repository.insert(busy, caller(a), 'into the busy one'),
      repository.insert(free, caller(a), 'into the free one'),
    ].map((call) => call.then((message) => message?.body ?? 'refused', (error: { code?: string }) => `error ${error.code}`));
    const overHttp = app.http().post('/api/v1/messages').set(a.auth).send({ conversationId: busy, body: 'over HTTP' });
    try {
      // The batch waits 2 s for the lock, is refused, and runs again send by send: the free
      // conversation's send is stored; the busy one's waits 2 s more and fails.
      expect(await Promise.all(calls)).toEqual(['alone', 'error 55P03', 'into the free one']);
      const answer = await overHttp;
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
      expect(answer.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'The conversation is busy; try again' });
    } finally {
      await db.query('COMMIT');
    }
    expect(await seqsOf(busy)).toEqual([]);
    expect((await send(app, a, busy, 'once it is free')).seq).toBe(1);
  });
});

/** Until another connection waits for the transaction open on `db` to end. */
async function untilSomeoneWaitsForThisTransaction(): Promise<void> {
  const { rows: [{ xid }] } = await db.query('SELECT pg_current_xact_id()::text AS xid');
  for (let attempt = 0; attempt < 400; attempt++) {
    const { rows } = await db.query(
      `SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'transactionid' AND transactionid::text = $1 AND NOT granted`,
      [xid],
    );
    if (rows[0].waiting > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('no send waited for the open transaction');
}
