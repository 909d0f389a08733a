import pg from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { runMigrations } from '../../src/database/migrate.js';
import { startApp, type TestApp } from '../support/app.js';
import { newGroup, newUser, send } from '../support/factories.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

// A transaction left open on another connection (an operator's psql session, a stuck job)
// holding rows that Parley's writes need. These need that second connection beside the app's,
// which the embedded PostgreSQL's one session cannot give.
const MIGRATION_LOCK_KEY = 7_261_977;
const LIMIT_MS = 300;
let db: pg.Client;

beforeAll(async () => {
  if (!process.env.TEST_DATABASE_URL) return;
  db = new pg.Client({ connectionString: inject('databaseUrl') });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
});

/** Edits a message and has a member leave while another connection holds their conversation. */
async function writesWhileLocked(app: TestApp) {
  const [owner, member] = [await newUser(app), await newUser(app)];
  const group = await newGroup(app, owner, [member]);
  const message = await send(app, owner, group, 'before');
  await db.query('BEGIN');
  await db.query('SELECT FROM conversations WHERE id = $1 FOR UPDATE', [group]);
  try {
    const edit = await app.http().patch(`/api/v1/messages/${message.id}`).set(owner.auth).send({ body: 'edited' });
    const leave = await app.http().delete(`/api/v1/conversations/${group}/members/${member.id}`).set(member.auth);
    // Reads take no row locks: the conversation stays readable meanwhile.
    const history = await app.http().get(`/api/v1/conversations/${group}/messages`).set(member.auth);
    return { owner, member, message, answers: [edit, leave], history };
  } finally {
    await db.query('ROLLBACK');
  }
}

/** Runs the app's migrations while "another instance" holds the migration lock for `holdMs`. */
async function migrateBehindAnotherInstance(app: TestApp, holdMs: number): Promise<void> {
  await db.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  let settled = false;
  const migrating = runMigrations(app.app.get(DataSource)).finally(() => (settled = true));
  try {
    await new Promise((resolve) => setTimeout(resolve, holdMs));
    expect(settled).toBe(false);
  } finally {
    await db.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
  await expect(migrating).resolves.toBeUndefined();
}

/** Migrations wait out a PostgreSQL limit three times over, then the pool has it back. */
async function migrationsLift(app: TestApp, setting: string): Promise<void> {
  await migrateBehindAnotherInstance(app, 3 * LIMIT_MS);
  // The connection it used goes back to the pool with the pool's limit (pg-pool hands out
  // the connection released last first).
  expect(await app.app.get(DataSource).query(`SHOW ${setting}`)).toEqual([{ [setting]: `${LIMIT_MS}ms` }]);
}

describe.runIf(process.env.TEST_DATABASE_URL)('writes held up by a transaction left open elsewhere: lock timeout', () => {
  let app: TestApp;
  beforeAll(async () => (app = await startApp({ DATABASE_LOCK_TIMEOUT_MS: String(LIMIT_MS) })));
  afterAll(async () => app?.close());

  it('are answered 503 after the lock timeout, change nothing, and go through once it ends', async () => {
    const { owner, member, message, answers, history } = await writesWhileLocked(app);
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
      expect(answer.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'What this request changes is busy; try again' });
    }
    expect(history.status).toBe(200);
    const unchanged = await app.http().get(`/api/v1/messages/${message.id}`).set(member.auth);
    expect(unchanged.body.body).toBe('before');
    const edited = await app.http().patch(`/api/v1/messages/${message.id}`).set(owner.auth).send({ body: 'edited' });
    expect(edited.status).toBe(200);
    expect(edited.body.body).toBe('edited');
  });

  it('leave migrations alone: an instance waits for another instance migrating however long', async () => {
    await migrationsLift(app, 'lock_timeout');
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)('statements that run too long: statement timeout', () => {
  let app: TestApp;
  // No lock timeout, so that the locked writes below run into the statement timeout instead.
  beforeAll(async () => (app = await startApp({ DATABASE_LOCK_TIMEOUT_MS: '0', DATABASE_STATEMENT_TIMEOUT_MS: String(LIMIT_MS) })));
  afterAll(async () => app?.close());

  it('are cancelled and answered 503, changing nothing', async () => {
    const { member, message, answers } = await writesWhileLocked(app);
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
      expect(answer.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'The database took too long to answer; try again' });
    }
    const unchanged = await app.http().get(`/api/v1/messages/${message.id}`).set(member.auth);
    expect(unchanged.body.body).toBe('before');
  });

  it('leave migrations alone: they run and wait as long as they must', async () => {
    await migrationsLift(app, 'statement_timeout');
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)('a transaction of its own left idle (its instance stalled): idle-in-transaction timeout', () => {
  let app: TestApp;
  // The lock timeout stays at its default (2 s), well past this limit.
  beforeAll(async () => (app = await startApp({ DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: String(LIMIT_MS) })));
  afterAll(async () => app?.close());

  it('is ended by PostgreSQL and rolled back, so writes into its conversation go through', async () => {
    const [owner, member] = [await newUser(app), await newUser(app)];
    const group = await newGroup(app, owner, [member]);
    const message = await send(app, owner, group, 'before');
    // One of the app's pooled connections stops between two statements of a transaction,
    // holding the conversation's row (as an edit does) and having changed a message.
    const stalled = app.app.get(DataSource).createQueryRunner();
    await stalled.connect();
    await stalled.startTransaction();
    await stalled.query('SELECT FROM conversations WHERE id = $1 FOR UPDATE', [group]);
    await stalled.query(`UPDATE messages SET body = 'never committed' WHERE id = $1`, [message.id]);
    try {
      const sent = await app.http().post('/api/v1/messages').set(member.auth).send({ conversationId: group, body: 'after' });
      expect(sent.status).toBe(201);
      expect(sent.body.seq).toBe(message.seq + 1);
      await expect(stalled.query('SELECT 1')).rejects.toThrow();
    } finally {
      await stalled.release().catch(() => undefined);
    }
    const unchanged = await app.http().get(`/api/v1/messages/${message.id}`).set(member.auth);
    expect(unchanged.body.body).toBe('before');
    // The pool goes on serving after losing that connection.
    expect((await send(app, owner, group, 'later')).seq).toBe(message.seq + 2);
  });

  it('answers the stalled request 503 when its instance carries on, having stored nothing of it', async () => {
    const [owner, member] = [await newUser(app), await newUser(app)];
    const group = await newGroup(app, owner, [member]);
    const message = await send(app, owner, group, 'before');
    // The edit's transaction stalls as it starts, three limits long, then does its work.
    const dataSource = app.app.get(DataSource);
    const transaction = dataSource.transaction.bind(dataSource);
    vi.spyOn(dataSource, 'transaction').mockImplementationOnce(((work: (manager: EntityManager) => Promise<unknown>) =>
      transaction(async (manager) => {
        await new Promise((resolve) => setTimeout(resolve, 3 * LIMIT_MS));
        return work(manager);
      })) as typeof dataSource.transaction);
    const stalled = await app.http().patch(`/api/v1/messages/${message.id}`).set(owner.auth).send({ body: 'edited' });
    expect(vi.mocked(dataSource.transaction)).toHaveBeenCalledTimes(1);
    expect(stalled.status).toBe(503);
    expect(stalled.headers['retry-after']).toBe('1');
    expect(stalled.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'The database is unavailable; try again shortly' });
    vi.mocked(dataSource.transaction).mockRestore();
    const unchanged = await app.http().get(`/api/v1/messages/${message.id}`).set(member.auth);
    expect(unchanged.body).toMatchObject({ body: 'before', changeSeq: message.changeSeq });
    const retried = await app.http().patch(`/api/v1/messages/${message.id}`).set(owner.auth).send({ body: 'edited' });
    expect(retried.status).toBe(200);
    expect(retried.body.body).toBe('edited');
  });

  it('leave migrations alone', async () => {
    await migrationsLift(app, 'idle_in_transaction_session_timeout');
  });
});

describe('a database that stops answering (a hung server, a network dropping every packet): answer timeout', () => {
  const ANSWER_MS = 1000;
  let proxy: TcpProxy;
  let app: TestApp;
  beforeAll(async () => {
    proxy = await startTcpProxy(inject('databaseUrl'));
    app = await startApp({ DATABASE_URL: proxy.url, DATABASE_STATEMENT_TIMEOUT_MS: '500', DATABASE_ANSWER_TIMEOUT_MS: String(ANSWER_MS) });
  });
  afterAll(async () => {
    proxy?.thaw();
    await app?.close();
    await proxy?.close();
  });

  it('answers the requests waiting on it 503 once the limit passes, and serves again when it answers', async () => {
    const [owner, member] = [await newUser(app), await newUser(app)];
    const group = await newGroup(app, owner, [member]);
    const before = await send(app, owner, group, 'before');
    const sendDuring = () => app.http().post('/api/v1/messages').set(owner.auth).send({ conversationId: group, body: 'during', clientMessageId: 'during-1' });

    proxy.freeze();
    const started = performance.now();
    const during = await Promise.all([
      sendDuring(),
      app.http().get(`/api/v1/conversations/${group}/messages`).set(member.auth),
      app.http().patch(`/api/v1/messages/${before.id}`).set(owner.auth).send({ body: 'edited during' }),
    ]);
    // Statements on pooled connections wait ANSWER_MS; a new connection waits for the pool's
    // 5 s connect timeout. Without the limit they wait for TCP to give up: a quarter of an hour.
    expect(performance.now() - started).toBeLessThan(8000);
    for (const answer of during) expect(answer.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect(during[0].headers['retry-after']).toBeDefined();

    proxy.thaw();
    // A statement that reached the server before its connection was given up on may still have
    // run (here the proxy delivers what it held): a 503 leaves the outcome open, and the
    // client's retry with the same clientMessageId settles it, storing the message once.
    const retried = await sendDuring();
    expect([200, 201]).toContain(retried.status);
    expect((await app.http().post('/api/v1/messages').set(owner.auth).send({ conversationId: group, body: 'after' })).status).toBe(201);
    const history = await app.http().get(`/api/v1/conversations/${group}/messages`).set(member.auth);
    expect(history.body.items.map((m: { seq: number; body: string }) => [m.seq, m.body]).reverse()).toEqual([
      [1, expect.stringMatching(/^(before|edited during)$/)],
      [2, 'during'],
      [3, 'after'],
    ]);
  });

  it.runIf(process.env.TEST_DATABASE_URL)('leaves migrations alone: they wait for another instance migrating however long', async () => {
    await migrateBehindAnotherInstance(app, 3 * ANSWER_MS);
    // The connection goes back to the pool with its limit: a silent one is given up on again.
    const user = await newUser(app);
    proxy.freeze();
    try {
      expect((await app.http().get('/api/v1/users/me').set(user.auth)).status).toBe(503);
    } finally {
      proxy.thaw();
    }
  });
});
