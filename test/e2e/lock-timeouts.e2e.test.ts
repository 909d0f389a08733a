import pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runMigrations } from '../../src/database/migrate.js';
import { startApp, type TestApp } from '../support/app.js';
import { newGroup, newUser, send } from '../support/factories.js';

// A transaction left open on another connection (an operator's psql session, a stuck job)
// holding rows that Parley's writes need. These need that second connection beside the app's,
// which the embedded PostgreSQL's one session cannot give.
describe.runIf(process.env.TEST_DATABASE_URL)('writes held up by a transaction left open elsewhere', () => {
  const LOCK_TIMEOUT_MS = 300;
  const MIGRATION_LOCK_KEY = 7_261_977;
  let app: TestApp;
  let db: pg.Client;

  beforeAll(async () => {
    app = await startApp({ DATABASE_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS) });
    db = new pg.Client({ connectionString: inject('databaseUrl') });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await app?.close();
  });

  it('are answered 503 after the lock timeout, change nothing, and go through once it ends', async () => {
    const [owner, member] = [await newUser(app), await newUser(app)];
    const group = await newGroup(app, owner, [member]);
    const message = await send(app, owner, group, 'before');
    await db.query('BEGIN');
    await db.query('SELECT FROM conversations WHERE id = $1 FOR UPDATE', [group]);
    try {
      const edit = await app.http().patch(`/api/v1/messages/${message.id}`).set(owner.auth).send({ body: 'edited' });
      const leave = await app.http().delete(`/api/v1/conversations/${group}/members/${member.id}`).set(member.auth);
      for (const answer of [edit, leave]) {
        expect(answer.status).toBe(503);
        expect(answer.headers['retry-after']).toBe('1');
        expect(answer.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'What this request changes is busy; try again' });
      }
      // Reads take no row locks: the conversation stays readable meanwhile.
      const history = await app.http().get(`/api/v1/conversations/${group}/messages`).set(member.auth);
      expect(history.status).toBe(200);
    } finally {
      await db.query('ROLLBACK');
    }
    const unchanged = await app.http().get(`/api/v1/messages/${message.id}`).set(member.auth);
    expect(unchanged.body.body).toBe('before');
    const edited = await app.http().patch(`/api/v1/messages/${message.id}`).set(owner.auth).send({ body: 'edited' });
    expect(edited.status).toBe(200);
    expect(edited.body.body).toBe('edited');
  });

  it('leave migrations alone: an instance waits for another instance migrating however long', async () => {
    const dataSource = app.app.get(DataSource);
    await db.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    let settled = false;
    const migrating = runMigrations(dataSource).finally(() => (settled = true));
    try {
      await new Promise((resolve) => setTimeout(resolve, 3 * LOCK_TIMEOUT_MS));
      expect(settled).toBe(false);
    } finally {
      await db.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
    await expect(migrating).resolves.toBeUndefined();
    // The connection it used goes back to the pool with the pool's timeout (pg-pool hands out
    // the connection released last first).
    expect(await dataSource.query('SHOW lock_timeout')).toEqual([{ lock_timeout: `${LOCK_TIMEOUT_MS}ms` }]);
  });
});
