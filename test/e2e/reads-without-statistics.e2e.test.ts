import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIND_VISIBLE_BATCH } from '../../src/messages/messages.repository.js';
import { AUDIENCES, PresenceRepository } from '../../src/presence/presence.repository.js';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newUser, send } from '../support/factories.js';
import { ownDatabase } from '../support/own-database.js';

/**
 * A new database's tables have no planner statistics until autovacuum's first round. The read of
 * single messages (every notified client's GET) must not depend on them: it once walked every
 * message of the caller's conversations instead of reading each by its key. Nor must presence's
 * audience (every user coming or going): it once scanned every membership for each user.
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

describe.skipIf(!process.env.TEST_DATABASE_URL)('reads on tables with no statistics yet', () => {
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

  it("finds who shares a conversation with a user through the conversations' keys, and finds them", async () => {
    const [alice, bob, carol] = [await newUser(app!, 'alice'), await newUser(app!, 'bob'), await newUser(app!, 'carol')];
    await newDirect(app!, alice, bob);
    // 15,000 other memberships in 600 groups of 25, as a busy server has.
    await db.query(
      `WITH made AS (
         INSERT INTO users (username, display_name, password_hash)
         SELECT 'filler' || g, 'Filler ' || g, 'x' FROM generate_series(1, 15000) g RETURNING id),
       groups AS (
         INSERT INTO conversations (type, title) SELECT 'group', 'filler ' || g FROM generate_series(1, 600) g RETURNING id),
       numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM groups)
       INSERT INTO conversation_members (conversation_id, user_id)
       SELECT numbered.id, made.id FROM made JOIN numbered ON numbered.n = made.id % 600 + 1`,
    );
    const analyzed = await db.query(`SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'conversation_members'`);
    expect(analyzed.rows).toEqual([{ last_analyze: null, last_autoanalyze: null }]);

    const plan = await db.query(`EXPLAIN ${AUDIENCES}`, [[alice.id, carol.id], [true, true]]);
    const text = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
    expect(text).toContain('conversation_members_pkey');
    expect(text).not.toMatch(/Seq Scan on conversation_members/);

    const presence = app!.app.get(PresenceRepository);
    expect(await presence.audienceOf(alice.id, true)).toEqual([bob.id]);
    expect(await presence.audienceOf(carol.id, true)).toEqual([]);
  });
});
