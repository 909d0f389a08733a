import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { FEW_CONVERSATIONS } from '../../src/search/search.repository.js';
import { newDirect, newGroup, newUser, send, type TestUser } from '../support/factories.js';

/** GET /api/v1/search/messages: full-text search over the caller's own conversations. */
let app: TestApp;

beforeAll(async () => {
  app = await startApp();
});

afterAll(async () => {
  await app.close();
});

/** A word no other test (or run) writes. */
const word = () => `w${randomBytes(4).toString('hex')}`;

type Hit = { message: { id: string; body: string | null; conversationId: string; senderId: string }; highlight: string };

const search = async (user: TestUser, query: Record<string, string | number>) => {
  const response = await app.http().get('/api/v1/search/messages').query(query).set(user.auth);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body as { items: Hit[]; nextCursor: string | null };
};

const ids = async (user: TestUser, query: Record<string, string | number>) => (await search(user, query)).items.map((hit) => hit.message.id);

describe('what a search finds', () => {
  it('matches words in the caller’s conversations only, newest first, whole words in any case', async () => {
    const [alice, bob, carol] = [await newUser(app, 'alice'), await newUser(app, 'bob'), await newUser(app, 'carol')];
    const withBob = await newDirect(app, alice, bob);
    const group = await newGroup(app, alice, [bob, carol], 'team');
    const bobAndCarol = await newDirect(app, bob, carol);
    const [x, y] = [word(), word()];
    const m1 = await send(app, alice, withBob, `Lunch at ${x}?`);
    const m2 = await send(app, carol, group, `${x.toUpperCase()} and ${y}`);
    const hidden = await send(app, carol, bobAndCarol, `${x} behind alice's back`);
    await send(app, bob, withBob, `${x}ish is not the word`);

    expect(await ids(alice, { q: x })).toEqual([m2.id, m1.id]);
    expect(await ids(bob, { q: x })).toEqual([hidden.id, m2.id, m1.id]);
    expect(await ids(alice, { q: `${x} ${y}` })).toEqual([m2.id]);
    expect(await ids(alice, { q: `${x} -${y}` })).toEqual([m1.id]);
    expect(await ids(alice, { q: `"lunch at ${x}"` })).toEqual([m1.id]);
    expect(await ids(alice, { q: `${y} or ${word()}` })).toEqual([m2.id]);
    // Words nobody wrote, and punctuation or operators alone, find nothing.
    expect(await ids(alice, { q: word() })).toEqual([]);
    expect(await ids(alice, { q: '-' })).toEqual([]);
    expect(await ids(alice, { q: '"' })).toEqual([]);

    const [hit] = (await search(alice, { q: y })).items;
    expect(hit.message).toEqual((await app.http().get(`/api/v1/messages/${m2.id}`).set(alice.auth)).body);
  });

  it('never finds deleted messages, system messages, or the conversations of a member who left', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const x = word();
    const group = await newGroup(app, alice, [bob], `group ${x}`);
    const kept = await send(app, bob, group, `keep ${x}`);
    const doomed = await send(app, bob, group, `delete ${x}`);
    await app.http().delete(`/api/v1/messages/${doomed.id}`).set(bob.auth);
    await app.http().patch(`/api/v1/conversations/${group}`).set(alice.auth).send({ title: `renamed ${x}` });

    expect(await ids(bob, { q: x })).toEqual([kept.id]);
    await app.http().delete(`/api/v1/conversations/${group}/members/${bob.id}`).set(bob.auth);
    expect(await ids(bob, { q: x })).toEqual([]);
    expect(await ids(alice, { q: x })).toEqual([kept.id]);
  });

  it('narrows by conversation, sender and time, and pages newest first with a cursor', async () => {
    const [alice, bob, carol] = [await newUser(app, 'alice'), await newUser(app, 'bob'), await newUser(app, 'carol')];
    const direct = await newDirect(app, alice, bob);
    const group = await newGroup(app, alice, [bob, carol], 'team');
    const x = word();
    const a1 = await send(app, alice, direct, `${x} a1`);
    const b1 = await send(app, bob, direct, `${x} b1`);
    const a2 = await send(app, alice, group, `${x} a2`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const middle = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const c1 = await send(app, carol, group, `${x} c1`);
    const a3 = await send(app, alice, group, `${x} a3`);

    expect(await ids(alice, { q: x, conversationId: group })).toEqual([a3.id, c1.id, a2.id]);
    expect(await ids(alice, { q: x, senderId: alice.id })).toEqual([a3.id, a2.id, a1.id]);
    expect(await ids(alice, { q: x, conversationId: group, senderId: alice.id })).toEqual([a3.id, a2.id]);
    expect(await ids(alice, { q: x, from: middle })).toEqual([a3.id, c1.id]);
    expect(await ids(alice, { q: x, to: middle })).toEqual([a2.id, b1.id, a1.id]);
    expect(await ids(alice, { q: x, from: middle.slice(0, 10) })).toEqual([a3.id, c1.id, a2.id, b1.id, a1.id]);

    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Hit[]; nextCursor: string | null } = await search(alice, { q: x, limit: 2, ...(cursor ? { cursor } : {}) });
      pages.push(page.items.map((hit) => hit.message.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages).toEqual([[a3.id, c1.id], [a2.id, b1.id], [a1.id]]);
  });

  it('answers 404 for a conversation the caller is not in, as for one that does not exist', async () => {
    const [alice, bob, outsider] = [await newUser(app, 'alice'), await newUser(app, 'bob'), await newUser(app, 'outsider')];
    const direct = await newDirect(app, alice, bob);
    const x = word();
    await send(app, alice, direct, x);
    const real = await app.http().get('/api/v1/search/messages').query({ q: x, conversationId: direct }).set(outsider.auth);
    const missing = await app.http().get('/api/v1/search/messages').query({ q: x, conversationId: '987654321' }).set(outsider.auth);
    expect(real.status).toBe(404);
    expect(real.body).toEqual(missing.body);
    expect(JSON.stringify(real.body)).not.toContain(x);
  });
});

describe('the statements', () => {
  it('run without JIT compilation, which cost a search on a large database 50–800 ms', async () => {
    expect(await app.app.get(DataSource).query('SHOW jit')).toEqual([{ jit: 'off' }]);
  });
});

describe('highlight', () => {
  it('is the whole body HTML-escaped, with the matching words in <mark>', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const direct = await newDirect(app, alice, bob);
    const x = word();
    await send(app, alice, direct, `Fish & chips, ${x}!\n\tTwice: ${x.toUpperCase()} "quoted" 'single' 😀 مرحبا`);
    const [hit] = (await search(bob, { q: x })).items;
    expect(hit.highlight).toBe(
      `Fish &amp; chips, <mark>${x}</mark>!\n\tTwice: <mark>${x.toUpperCase()}</mark> &quot;quoted&quot; &#39;single&#39; 😀 مرحبا`,
    );
  });

  it('never lets a body inject markup: <script>, <mark> and entities in bodies show as text', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const direct = await newDirect(app, alice, bob);
    const x = word();
    // PostgreSQL's parser reads tags as markup and indexes no word inside one (nor inside
    // <script>…</script>), so each body has the word outside its tags.
    const bodies = [
      `<script>alert(1)</script> ${x}`,
      `<mark>${x}</mark> <mark>not a match</mark>`,
      `&lt;b&gt; ${x} &amp; &#60;img src=x onerror=alert(1)&#62;`,
      `<img src=x onerror="alert('${x}')"> ${x}`,
      `${x}</mark><script>alert(1)</script><mark>`,
    ];
    for (const body of bodies) await send(app, alice, direct, body);
    const hits = (await search(bob, { q: x })).items.reverse();
    expect(hits.map((hit) => hit.message.body)).toEqual(bodies);
    for (const hit of hits) {
      // Taking the <mark>s out leaves exactly the escaped body: no other tag, nothing unescaped.
      const unmarked = hit.highlight.replaceAll('<mark>', '').replaceAll('</mark>', '');
      expect(unmarked).toBe(hit.message.body!.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!));
      expect(hit.highlight.match(/<[^>]*>/g)?.every((tag) => tag === '<mark>' || tag === '</mark>')).toBe(true);
      expect(hit.highlight).toContain(`<mark>${x}</mark>`);
    }
    expect(hits[0].highlight).toBe(`&lt;script&gt;alert(1)&lt;/script&gt; <mark>${x}</mark>`);
    expect(hits[1].highlight).toBe(`&lt;mark&gt;<mark>${x}</mark>&lt;/mark&gt; &lt;mark&gt;not a match&lt;/mark&gt;`);
  });
});

describe('newest first, exactly, however the matches are spread', () => {
  /**
   * The search reads each conversation's newest messages first and turns to the index when that
   * cannot settle the page (src/search/search.repository.ts). Conversations larger than their
   * share of that first read, words from everywhere to nowhere, every page compared with the
   * plain answer: the matching messages of the caller's conversations, newest first.
   */
  it('gives every page as the plain query would, whichever way it finds them', async () => {
    const dataSource = app.app.get(DataSource);
    const [alice, bob, carol] = [await newUser(app, 'alice'), await newUser(app, 'bob'), await newUser(app, 'carol')];
    const tag = word();
    // Alice and bob are in 12 groups (a share of 83 messages each), carol in one (a share of 1,000).
    const conversations = [await newGroup(app, alice, [bob, carol], 'big')];
    for (let i = 0; i < 11; i++) conversations.push(await newGroup(app, alice, [bob], `g${i}`));
    const vocabulary = Array.from({ length: 6 }, (_, i) => `${tag}v${i}`);
    // Interleaved over the conversations (the big one gets a third), in id order; word k is in
    // about one message in 2^k, and v5 only in the oldest few of the big conversation.
    await dataSource.query(
      `WITH input AS (
         SELECT i, CASE WHEN i % 3 = 0 THEN ($1::bigint[])[1] ELSE ($1::bigint[])[2 + (i % 11)] END AS conversation_id
           FROM generate_series(1, 3000) AS i
       ), numbered AS (
         SELECT i, conversation_id, row_number() OVER (PARTITION BY conversation_id ORDER BY i) AS seq FROM input
       )
       INSERT INTO messages (conversation_id, seq, change_seq, sender_id, body)
       SELECT n.conversation_id, c.last_seq + n.seq, c.last_change_seq + n.seq,
              CASE WHEN n.i % 2 = 0 THEN $2::bigint ELSE $3::bigint END,
              concat_ws(' ', 'msg', n.i,
                CASE WHEN n.i % 2 = 0 THEN $4 END, CASE WHEN n.i % 4 = 0 THEN $5 END, CASE WHEN n.i % 8 = 1 THEN $6 END,
                CASE WHEN n.i % 64 = 5 THEN $7 END, CASE WHEN n.i % 500 = 7 THEN $8 END,
                CASE WHEN n.i < 40 AND n.i % 3 = 0 THEN $9 END)
         FROM numbered n JOIN conversations c ON c.id = n.conversation_id
        ORDER BY n.i`,
      [conversations, alice.id, bob.id, ...vocabulary],
    );
    await dataSource.query(
      `UPDATE conversations c SET last_seq = m.n, last_change_seq = m.n
         FROM (SELECT conversation_id, max(seq) AS n FROM messages WHERE conversation_id = ANY ($1::bigint[]) GROUP BY 1) m
        WHERE c.id = m.conversation_id`,
      [conversations],
    );
    await dataSource.query('ANALYZE messages');

    const plain = async (user: TestUser, q: string, senderId?: string) =>
      (
        await dataSource.query(
          `SELECT m.id FROM messages m JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $1
            WHERE m.search_vector @@ websearch_to_tsquery('simple', $2) AND ($3::bigint IS NULL OR m.sender_id = $3)
            ORDER BY m.id DESC`,
          [user.id, q, senderId ?? null],
        )
      ).map((row: { id: string }) => row.id);
    const paged = async (user: TestUser, query: Record<string, string | number>) => {
      const found: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: Hit[]; nextCursor: string | null } = await search(user, { ...query, ...(cursor ? { cursor } : {}) });
        found.push(...page.items.map((hit) => hit.message.id));
        cursor = page.nextCursor;
      } while (cursor && found.length < 300);
      return found;
    };

    // Dave is in 11 of the groups (not the big one) and in more than FEW_CONVERSATIONS others,
    // all empty: the index is asked for the words alone, and he must get his own matches only.
    const dave = await newUser(app, 'dave');
    await dataSource.query(`INSERT INTO conversation_members (conversation_id, user_id) SELECT unnest($1::bigint[]), $2`, [conversations.slice(1), dave.id]);
    await dataSource.query(
      `WITH made AS (INSERT INTO conversations (type, title, owner_id) SELECT 'group', 'empty ' || g, $1 FROM generate_series(1, $2::int) g RETURNING id)
       INSERT INTO conversation_members (conversation_id, user_id) SELECT id, $1 FROM made`,
      [dave.id, FEW_CONVERSATIONS],
    );

    const queries = [...vocabulary, `${vocabulary[1]} ${vocabulary[2]}`, `${vocabulary[0]} -${vocabulary[1]}`, `${vocabulary[3]} or ${vocabulary[5]}`, word()];
    for (const user of [alice, carol, dave]) {
      for (const q of queries) {
        const expected = await plain(user, q);
        for (const limit of [1, 7, 20]) {
          const first = await search(user, { q, limit });
          expect(first.items.map((hit) => hit.message.id), `${user.username} ${q} limit ${limit}`).toEqual(expected.slice(0, limit));
        }
        if (expected.length <= 300) expect(await paged(user, { q, limit: 20 }), `${user.username} ${q} paged`).toEqual(expected);
      }
    }
    expect(await paged(alice, { q: vocabulary[3], senderId: bob.id, limit: 5 })).toEqual(await plain(alice, vocabulary[3], bob.id));
    expect(await paged(dave, { q: vocabulary[3], senderId: bob.id, limit: 5 })).toEqual(await plain(dave, vocabulary[3], bob.id));
    expect((await search(alice, { q: vocabulary[2], senderId: bob.id, limit: 20 })).items.map((hit) => hit.message.id)).toEqual((await plain(alice, vocabulary[2], bob.id)).slice(0, 20));
  });
});
