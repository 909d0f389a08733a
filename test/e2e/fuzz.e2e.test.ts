import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newScene, type TestUser } from '../support/factories.js';

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

beforeAll(async () => {
  app = await startApp();
  ({ alice, bob, directId, groupId, messageId } = await newScene(app));
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

/** An object using the route's own field names (so validation goes deep) plus random extras. */
const bodyWith = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.oneof(
    fc.record(fields, { requiredKeys: [] }),
    fc.tuple(fc.record(fields, { requiredKeys: [] }), fc.dictionary(fc.string({ maxLength: 8 }), edgy, { maxKeys: 2 })).map(
      ([known, extra]) => ({ ...extra, ...known }),
    ),
    fc.jsonValue({ maxDepth: 3 }),
  );

const routes: [string, 'post' | 'patch', () => string, () => fc.Arbitrary<unknown>][] = [
  ['register', 'post', () => '/api/v1/auth/register', () => bodyWith({ username: edgy, password: edgy, displayName: edgy })],
  ['login', 'post', () => '/api/v1/auth/login', () => bodyWith({ username: edgy, password: edgy })],
  ['create conversation', 'post', () => '/api/v1/conversations', () =>
    bodyWith({ type: fc.oneof(fc.constantFrom('direct', 'group'), edgy), userId: idLike(), title: edgy, memberIds: fc.oneof(fc.array(idLike(), { maxLength: 3 }), edgy) })],
  ['add members', 'post', () => `/api/v1/conversations/${groupId}/members`, () => bodyWith({ userIds: fc.oneof(fc.array(idLike(), { maxLength: 3 }), edgy) })],
  ['mark read', 'post', () => `/api/v1/conversations/${directId}/read`, () => bodyWith({ seq: edgy })],
  ['send', 'post', () => '/api/v1/messages', () =>
    bodyWith({ conversationId: idLike(), recipientId: idLike(), body: edgy, clientMessageId: edgy })],
  ['edit', 'patch', () => `/api/v1/messages/${messageId}`, () => bodyWith({ body: edgy })],
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
    const paths = [`/api/v1/conversations/${directId}/messages`, `/api/v1/conversations/${directId}/changes`, '/api/v1/conversations', '/api/v1/users'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.dictionary(fc.constantFrom('before', 'after', 'limit', 'since', 'cursor', 'q', 'x'), fc.oneof(edgy.map(asQueryValue), fc.string(), fc.constant('a\u0000b'))),
        async (path, query) => {
          const response = await app.http().get(path).query(query).set(alice.auth);
          expect(response.status, `${path} ${JSON.stringify(query)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
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
    // Usernames stay within the contract's alphabet.
    const names = await dataSource.query(`SELECT username FROM users WHERE username !~ '^[a-z0-9_.-]{3,32}$'`);
    expect(names).toEqual([]);
  });
});
