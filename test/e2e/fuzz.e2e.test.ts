import { readdir } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newScene, uniqueName, type TestUser } from '../support/factories.js';

/**
 * Property-based: whatever JSON arrives at any route, the answer is a 4xx or a success in the
 * contract's shape, never a 500, and the database's invariants still hold afterwards.
 */
let app: TestApp;
let alice: TestUser;
let bob: TestUser;
let directId: string;
let groupId: string;
let messageId: string;
/** Uploads of alice's and of bob's, for the fuzzer to try attaching. */
let uploads: string[];
/** A bot of alice's, for the fuzzer to set webhooks on. */
let botId: string;

beforeAll(async () => {
  app = await startApp();
  ({ alice, bob, directId, groupId, messageId } = await newScene(app));
  uploads = [];
  for (const user of [alice, alice, bob]) {
    const response = await app.http().post('/api/v1/attachments').set(user.auth).attach('file', Buffer.from('fuzz'), 'fuzz.txt');
    expect(response.status).toBe(201);
    uploads.push(response.body.id);
  }
  botId = (await app.http().post('/api/v1/bots').set(alice.auth).send({ username: uniqueName('bot') })).body.bot.id;
});

afterAll(async () => {
  await app.close();
});

/** Values at and around every boundary the API has, mixed with arbitrary JSON. */
const edgy = fc.oneof(
  fc.constantFrom('', ' ', '\u0000', '1', '0', '-1', '1.5', '9007199254740993', '99999999999999999999999', 'null', '__proto__', "'; DROP TABLE users; --"),
  fc.constantFrom(0, -1, 1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308, Number.MAX_SAFE_INTEGER),
  fc.constantFrom(null, true, false, [], {}, ['1'], [1], [null]),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('x'.repeat(4000), 'x'.repeat(4001), ' '.repeat(5000)),
  fc.jsonValue({ maxDepth: 2 }),
);

/**
 * A boundary value as it would be typed into a query string. Not `String(value)`: fast-check's
 * JSON objects can come without a usable `toString` (a null prototype and a `toString` key), and
 * then `String()` throws in the generator, failing the test on a value never sent.
 */
const asQueryValue = (value: unknown) => (typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value));

const idLike = () => fc.oneof(edgy, fc.constantFrom(alice.id, bob.id, directId, groupId, messageId));

/** Lists of ids, real uploads of alice's and bob's among them, and anything else. */
const attachmentIdsLike = () =>
  fc.oneof(fc.array(fc.oneof(idLike(), fc.constantFrom(...uploads)), { maxLength: 12 }), fc.constantFrom(...uploads).map((id) => [id]), edgy);

/** An object using the route's own field names (so validation goes deep) plus random extras. */
const bodyWith = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.oneof(
    fc.record(fields, { requiredKeys: [] }),
    fc.tuple(fc.record(fields, { requiredKeys: [] }), fc.dictionary(fc.string({ maxLength: 8 }), edgy, { maxKeys: 2 })).map(
      ([known, extra]) => ({ ...extra, ...known }),
    ),
    fc.jsonValue({ maxDepth: 3 }),
  );

const routes: [string, 'post' | 'put' | 'patch', () => string, () => fc.Arbitrary<unknown>][] = [
  ['register', 'post', () => '/api/v1/auth/register', () => bodyWith({ username: edgy, password: edgy, displayName: edgy })],
  ['login', 'post', () => '/api/v1/auth/login', () => bodyWith({ username: edgy, password: edgy })],
  ['refresh', 'post', () => '/api/v1/auth/refresh', () => bodyWith({ refreshToken: edgy })],
  ['create conversation', 'post', () => '/api/v1/conversations', () =>
    bodyWith({ type: fc.oneof(fc.constantFrom('direct', 'group'), edgy), userId: idLike(), title: edgy, memberIds: fc.oneof(fc.array(idLike(), { maxLength: 3 }), edgy) })],
  ['add members', 'post', () => `/api/v1/conversations/${groupId}/members`, () => bodyWith({ userIds: fc.oneof(fc.array(idLike(), { maxLength: 3 }), edgy) })],
  ['mark read', 'post', () => `/api/v1/conversations/${directId}/read`, () => bodyWith({ seq: edgy })],
  ['send', 'post', () => '/api/v1/messages', () =>
    bodyWith({ conversationId: idLike(), recipientId: idLike(), body: edgy, clientMessageId: edgy, replyToId: idLike(), attachmentIds: attachmentIdsLike() })],
  ['edit', 'patch', () => `/api/v1/messages/${messageId}`, () => bodyWith({ body: edgy, attachmentIds: attachmentIdsLike() })],
  ['rename', 'patch', () => `/api/v1/conversations/${groupId}`, () => bodyWith({ title: edgy })],
  ['create bot', 'post', () => '/api/v1/bots', () => bodyWith({ username: edgy, displayName: edgy })],
  ['set webhook', 'put', () => `/api/v1/bots/${botId}/webhook`, () =>
    bodyWith({ url: fc.oneof(edgy, fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.constantFrom('https://[::1]/', 'http://2130706433/', 'https://x@y/')) })],
  // Keys only from the edge values, never a valid pair: no subscription is made to receive pushes.
  ['subscribe to pushes', 'post', () => '/api/v1/push/subscriptions', () =>
    bodyWith({ endpoint: fc.oneof(edgy, fc.webUrl()), keys: fc.oneof(edgy, bodyWith({ p256dh: edgy, auth: edgy })), expirationTime: edgy })],
  ['conversation settings', 'patch', () => `/api/v1/conversations/${groupId}/settings`, () => bodyWith({ muted: fc.oneof(fc.boolean(), edgy) })],
  ['settings', 'patch', () => '/api/v1/users/me', () =>
    bodyWith({ displayName: edgy, shareReadReceipts: fc.oneof(fc.boolean(), edgy), sharePresence: fc.oneof(fc.boolean(), edgy) })],
];

describe('fuzzing every JSON body', () => {
  it.each(routes)('%s never answers 5xx', async (_name, method, path, arbitrary) => {
    await fc.assert(
      fc.asyncProperty(arbitrary(), async (body) => {
        // Sent as raw JSON text: any JSON value at all, `true` and `"x"` included.
        const response = await app.http()[method](path()).set(alice.auth).set('Content-Type', 'application/json').send(JSON.stringify(body));
        expect(response.status, JSON.stringify(body)).toBeLessThan(500);
        if (response.status >= 400) {
          expect(Object.keys(response.body).sort()).toEqual(['error', 'message', 'statusCode']);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('never answers 5xx to arbitrary query strings', async () => {
    const paths = [
      `/api/v1/conversations/${directId}/messages`,
      `/api/v1/conversations/${directId}/changes`,
      `/api/v1/conversations/${groupId}/receipts`,
      '/api/v1/conversations',
      '/api/v1/users',
      `/api/v1/messages/${messageId}/thread`,
      `/api/v1/messages/${messageId}/reactions/${encodeURIComponent('👍')}`,
      `/api/v1/conversations/${groupId}/pins`,
      '/api/v1/presence',
      '/api/v1/search/messages',
    ];
    const times = fc.oneof(
      fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
      fc.constantFrom('2026', '2026-02-30', '2026-W01-1', '2026-032', '+002026-01-01', '0000-01-01', '9999-12-31T23:59:59-12:00', '2026-12-01T24:00:00Z'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.dictionary(
          fc.constantFrom('before', 'after', 'limit', 'since', 'cursor', 'q', 'userIds', 'x', 'conversationId', 'senderId', 'from', 'to'),
          fc.oneof(
            edgy.map(asQueryValue),
            fc.string(),
            fc.constant('a\u0000b'),
            times,
            idLike().map(asQueryValue),
            fc.array(idLike().map(asQueryValue), { maxLength: 4 }).map((ids) => ids.join(',')),
          ),
        ),
        async (path, query) => {
          const response = await app.http().get(path).query(query).set(alice.auth);
          expect(response.status, `${path} ${JSON.stringify(query)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never answers 5xx to arbitrary multipart uploads, and leaves no staging file behind', async () => {
    const part = fc.record({
      name: fc.oneof(fc.constantFrom('file', 'files', 'constructor', '__proto__', ''), fc.string({ maxLength: 10 })),
      filename: fc.option(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('../../x', 'a\u202Eb.exe', 'a"b', '\u0000')), { nil: undefined }),
      contentType: fc.option(fc.constantFrom('image/png', 'text/html', 'application/json', '', 'x'), { nil: undefined }),
      body: fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        // Headers of real formats, cut short or followed by noise.
        fc.constantFrom('89504e470d0a1a0a0000000d49484452', 'ffd8ffe000104a464946', '474946383961', '52494646000000005745425056503820').chain((hex) =>
          fc.uint8Array({ maxLength: 100 }).map((tail) => new Uint8Array([...Buffer.from(hex, 'hex'), ...tail])),
        ),
      ),
    });
    const boundary = 'fuzz-boundary';
    const encode = (parts: { name: string; filename?: string; contentType?: string; body: Uint8Array }[]) =>
      Buffer.concat([
        ...parts.flatMap((p) => [
          Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}` +
              `${p.contentType === undefined ? '' : `\r\nContent-Type: ${p.contentType}`}\r\n\r\n`,
          ),
          Buffer.from(p.body),
          Buffer.from('\r\n'),
        ]),
        Buffer.from(`--${boundary}--\r\n`),
      ]);
    await fc.assert(
      fc.asyncProperty(
        fc.array(part, { maxLength: 3 }),
        // Cut the body anywhere (a truncated upload), or send it whole.
        fc.option(fc.nat(), { nil: undefined }),
        fc.constantFrom(`multipart/form-data; boundary=${boundary}`, 'multipart/form-data', `multipart/form-data; boundary="${boundary}"`, 'multipart/mixed; boundary=x'),
        async (parts, cut, contentType) => {
          const whole = encode(parts);
          const body = cut === undefined ? whole : whole.subarray(0, cut % (whole.length + 1));
          const response = await fetch(`${app.url}/api/v1/attachments`, { method: 'POST', headers: { ...alice.auth, 'Content-Type': contentType }, body });
          expect(response.status, `${contentType} ${body.toString('latin1').slice(0, 200)}`).toBeLessThan(500);
          expect(Object.keys((await response.json()) as object).length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 150 },
    );
    expect(await readdir(path.join(app.config.storageDir, '.staging'))).toEqual([]);
  });

  it('never answers 5xx to POST …/typing, whatever the conversation id or body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(idLike().map(asQueryValue), fc.string({ maxLength: 30 })), fc.option(fc.jsonValue({ maxDepth: 2 })), async (id, body) => {
        const request = app.http().post(`/api/v1/conversations/${encodeURIComponent(id)}/typing`).set(alice.auth);
        const response = body === null ? await request : await request.set('Content-Type', 'application/json').send(JSON.stringify(body));
        expect(response.status, `${id} ${JSON.stringify(body)}`).toBeLessThan(500);
      }),
      { numRuns: 80 },
    );
  });

  it('never answers 5xx to arbitrary ids and emoji in the paths of reactions and pins', async () => {
    // A path segment as a client might send it: any text URL-encoded, or any bytes percent-escaped
    // (malformed UTF-8, an encoded lone surrogate, NUL among them).
    const segment = fc.oneof(
      fc.oneof(fc.string({ unit: 'grapheme', maxLength: 6 }), fc.constantFrom('👍', '❤', '👨‍👩‍👧‍👦', '🇺🇦', '1️⃣', '7', ''), edgy.map(asQueryValue))
        .filter((text) => !/\p{Cs}/u.test(text))
        .map(encodeURIComponent),
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 12 }).map((bytes) => bytes.map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
    );
    const id = () => idLike().map((value) => encodeURIComponent(asQueryValue(value)));
    const request = fc.oneof(
      fc.tuple(fc.constantFrom('put', 'delete', 'get'), id(), segment).map(([method, message, emoji]) => [method, `/api/v1/messages/${message}/reactions/${emoji}`] as const),
      fc.tuple(fc.constantFrom('put', 'delete'), id(), id()).map(([method, conversation, message]) => [method, `/api/v1/conversations/${conversation}/pins/${message}`] as const),
      id().map((conversation) => ['get', `/api/v1/conversations/${conversation}/pins`] as const),
      id().map((message) => ['get', `/api/v1/messages/${message}/thread`] as const),
    );
    await fc.assert(
      fc.asyncProperty(request, async ([method, path]) => {
        const response = await app.http()[method as 'put' | 'delete' | 'get'](path).set(alice.auth);
        expect(response.status, `${method} ${path}`).toBeLessThan(500);
        if (response.status >= 400) expect(Object.keys(response.body).sort(), `${method} ${path}`).toEqual(['error', 'message', 'statusCode']);
      }),
      { numRuns: 200 },
    );
  });

  it('leaves the database consistent', async () => {
    const dataSource = app.app.get(DataSource);
    // Every conversation's counters match its messages: seqs 1..lastSeq with no gaps.
    const counters = await dataSource.query(`
      SELECT c.id, c.last_seq, c.last_change_seq,
             count(m.id) AS messages, coalesce(max(m.seq), 0) AS max_seq,
             coalesce(max(m.change_seq), 0) AS max_change_seq
        FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
       GROUP BY c.id
      HAVING c.last_seq <> count(m.id) OR c.last_seq <> coalesce(max(m.seq), 0)
          OR c.last_change_seq < coalesce(max(m.change_seq), 0)`);
    expect(counters).toEqual([]);
    // Direct conversations have exactly their two members.
    const directs = await dataSource.query(`
      SELECT c.id FROM conversations c JOIN conversation_members cm ON cm.conversation_id = c.id
       WHERE c.type = 'direct' GROUP BY c.id HAVING count(*) <> 2`);
    expect(directs).toEqual([]);
    // Read markers never pass the last message.
    const markers = await dataSource.query(`
      SELECT 1 FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
       WHERE cm.last_read_seq > c.last_seq`);
    expect(markers).toEqual([]);
    // Each message's reaction counts are its reaction rows, counted.
    const reactions = await dataSource.query(`
      WITH kept AS (
        SELECT m.id, e.x ->> 0 AS emoji, (e.x ->> 1)::int AS count
          FROM messages m CROSS JOIN LATERAL jsonb_array_elements(m.reactions) AS e (x)
      ), truth AS (SELECT message_id AS id, emoji, count(*)::int AS count FROM message_reactions GROUP BY 1, 2)
      SELECT * FROM kept FULL JOIN truth USING (id, emoji) WHERE kept.count IS DISTINCT FROM truth.count`);
    expect(reactions).toEqual([]);
    // A root's reply count is its replies; a reply's thread is its answered message's thread.
    const threads = await dataSource.query(`
      SELECT r.id FROM messages r
       WHERE r.reply_count <> (SELECT count(*) FROM messages x WHERE x.thread_id = r.id)
          OR (r.reply_to_id IS NOT NULL AND r.thread_id <> (SELECT coalesce(t.thread_id, t.id) FROM messages t WHERE t.id = r.reply_to_id))`);
    expect(threads).toEqual([]);
    // The mention rows (mentionCount's index) are the members each message names.
    const mentions = await dataSource.query(`
      WITH named AS (SELECT u.user_id, m.conversation_id, m.seq FROM messages m CROSS JOIN LATERAL unnest(m.mentioned_user_ids) AS u (user_id))
      SELECT * FROM (SELECT * FROM named EXCEPT SELECT * FROM message_mentions) missing
      UNION ALL SELECT * FROM (SELECT * FROM message_mentions EXCEPT SELECT * FROM named) extra`);
    expect(mentions).toEqual([]);
    // Usernames stay within the contract's alphabet.
    const names = await dataSource.query(`SELECT username FROM users WHERE username !~ '^[a-z0-9_.-]{3,32}$'`);
    expect(names).toEqual([]);
    // No message carries more than 10 attachments, nor another user's.
    const attachments = await dataSource.query(`
      SELECT a.message_id FROM attachments a JOIN messages m ON m.id = a.message_id
       WHERE a.removed_at IS NULL GROUP BY a.message_id
      HAVING count(*) > 10 OR bool_or(a.uploader_id <> m.sender_id)`);
    expect(attachments).toEqual([]);
  });
});
