import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIND_VISIBLE_BATCH } from '../../src/messages/messages.repository.js';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newUser, send } from '../support/factories.js';
import { ownDatabase } from '../support/own-database.js';

/**
 * A new database's tables have no planner statistics until autovacuum's first round. The read of
 * single messages (every notified client's GET) must not depend on them: it once walked every
 * message of the caller's conversations instead of reading each by its key.
 */
let database: Awaited<ReturnType<typeof ownDatabase>>;
let app: TestApp | undefined;
let db: pg.Client;

beforeAll(async () => {
  database = await ownDatabase('no_statistics');
  if (!database) return;
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
  for (const table of ['messages', 'conversations', 'conversation_members', 'users', 'sessions']) {
    await db.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
  }
  app = await startApp({ DATABASE_URL: database.url });
});

afterAll(async () => {
  await app?.close();
  await db?.end();
  await database?.drop();
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('reading messages on tables with no statistics yet', () => {
  it('reads each message by its key, and answers it', async () => {
    const [alice, bob] = [await newUser(app!, 'alice'), await newUser(app!, 'bob')];
    const conversationId = await newDirect(app!, alice, bob);
    const last = await send(app!, alice, conversationId, 'the one to read');
    // A long conversation, written behind the send path's back (its counters are not needed here).
    await db.query(
      `INSERT INTO messages (conversation_id, seq, change_seq, sender_id, body)
       SELECT $1, $2 + g, $3 + g, $4, 'filler ' || g FROM generate_series(1, 20000) g`,
      [conversationId, last.seq, last.changeSeq, alice.id],
    );
    const analyzed = await db.query(`SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'messages'`);
    expect(analyzed.rows).toEqual([{ last_analyze: null, last_autoanalyze: null }]);

    const ids = [last.id, ...(await db.query(`SELECT id::text FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT 15`, [conversationId])).rows.map((row) => row.id)];
    const plan = await db.query(`EXPLAIN ${FIND_VISIBLE_BATCH}`, [ids, ids.map(() => bob.id), ids.map(() => 0), ids.map(() => bob.sessionId)]);
    const text = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
    expect(text).toContain('messages_pkey');
    expect(text).not.toContain('messages_conversation_change_seq_key');

    const response = await app!.http().get(`/api/v1/messages/${last.id}`).set(bob.auth);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: last.id, body: 'the one to read' });
  });
});
