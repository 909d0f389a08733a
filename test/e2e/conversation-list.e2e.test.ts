import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newGroup, newUser, send, type TestUser } from '../support/factories.js';

/**
 * The conversation list reads its pages through the member rows' `activity_at`, which may lag
 * the conversation's `updated_at` by up to a second (the conversation-list-activity migration):
 * its pages must still be exactly "most recently active first", cursor after cursor.
 */
describe('the conversation list of a member of many conversations', () => {
  let app: TestApp;
  let db: DataSource;
  let owner: TestUser;
  let other: TestUser;
  const conversationIds: string[] = [];

  beforeAll(async () => {
    app = await startApp();
    db = app.app.get(DataSource);
    [owner, other] = [await newUser(app), await newUser(app)];
    for (let i = 0; i < 45; i++) conversationIds.push(await newGroup(app, owner, [other], `g${i}`));
  });

  afterAll(async () => {
    await app?.close();
  });

  /** Every page of `user`'s list, `limit` at a time, as the API gives them. */
  async function listAll(user: TestUser, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await app
        .http()
        .get(`/api/v1/conversations?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
        .set(user.auth);
      expect(page.status).toBe(200);
      ids.push(...page.body.items.map((item) => item.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    return ids;
  }

  /** The order by definition: updated_at, newest first, then id. */
  async function expected(user: TestUser): Promise<string[]> {
    const rows = await db.query(
      `SELECT c.id::text FROM conversations c JOIN conversation_members me ON me.conversation_id = c.id
        WHERE me.user_id = $1 ORDER BY c.updated_at DESC, c.id DESC`,
      [user.id],
    );
    return rows.map((row: { id: string }) => row.id);
  }

  it('pages in exact order when activity lags by up to a second, with ties and clusters', async () => {
    // Times in clusters a few hundred ms wide, some conversations at the very same microsecond,
    // and each member row lagging its conversation by anything under a second.
    await db.query(
      `UPDATE conversations c
          SET updated_at = t.at, members_activity_at = t.at - t.lag
         FROM (SELECT id, lag, timestamptz '2026-01-01' + (n / 6) * interval '700 ms' + (n % 3) * interval '150 ms' AS at
                 FROM (SELECT id, row_number() OVER (ORDER BY id) AS n, (id % 10) * interval '99 ms' AS lag
                         FROM conversations WHERE id = ANY ($1::bigint[])) numbered) t
        WHERE c.id = t.id`,
      [conversationIds],
    );
    await db.query(
      `UPDATE conversation_members me SET activity_at = c.updated_at - ((me.user_id + c.id) % 10) * interval '99 ms'
         FROM conversations c WHERE c.id = me.conversation_id AND c.id = ANY ($1::bigint[])`,
      [conversationIds],
    );
    const reference = await expected(owner);
    expect(reference).toHaveLength(45);
    for (const limit of [1, 2, 5, 7, 20, 100]) {
      expect(await listAll(owner, limit), `limit ${limit}`).toEqual(reference);
      expect(await listAll(other, limit), `limit ${limit}`).toEqual(await expected(other));
    }
  });

  it('moves a conversation up on a send and keeps every member row within a second of it', async () => {
    const [oldest] = (await expected(owner)).slice(-1);
    await send(app, other, oldest, 'up you go');
    for (const user of [owner, other]) {
      const ids = await listAll(user, 4);
      expect(ids[0]).toBe(oldest);
      expect(ids).toEqual(await expected(user));
    }
    const lagging = await db.query(
      `SELECT me.user_id FROM conversation_members me JOIN conversations c ON c.id = me.conversation_id
        WHERE c.id = ANY ($1::bigint[])
          AND NOT (me.activity_at <= c.updated_at AND me.activity_at > c.updated_at - interval '1 second')`,
      [conversationIds],
    );
    expect(lagging).toEqual([]);
  });

  it('reads a page through the member index, not every membership', async () => {
    const [plan] = await db.query(
      `EXPLAIN (FORMAT JSON)
       SELECT me.conversation_id FROM conversation_members me
        WHERE me.user_id = $1 AND me.activity_at >= now() - interval '1 day' ORDER BY me.activity_at DESC LIMIT 5`,
      [owner.id],
    );
    expect(JSON.stringify(plan)).toContain('conversation_members_activity_idx');
  });
});
