import { createECDH } from 'node:crypto';
import type { Test } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newScene, send, uniqueName, type TestUser } from '../support/factories.js';

let app: TestApp;
let alice: TestUser;
let bob: TestUser;
let directId: string;
let groupId: string;
let messageId: string;
let groupMessageId: string;
let botId: string;

beforeAll(async () => {
  app = await startApp();
  ({ alice, bob, directId, groupId, messageId } = await newScene(app));
  groupMessageId = (await send(app, alice, groupId, 'in the group')).id;
  botId = (await app.http().post('/api/v1/bots').set(alice.auth).send({ username: uniqueName('bot') })).body.bot.id;
});

afterAll(async () => {
  await app.close();
});

// Bodies that name fixtures are thunks: the fixtures exist only once beforeAll has run.
type Case = [name: string, method: 'get' | 'post' | 'put' | 'patch' | 'delete', path: () => string, body: unknown, status: number];

const long = (n: number) => 'x'.repeat(n);
/** Keys of a push subscription of the right lengths (65 and 16 bytes). */
// A real point on P-256: 65 bytes that are none are refused (the next case but one).
const P256DH = (() => {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return ecdh.getPublicKey('base64url');
})();
const AUTH = Buffer.alloc(16, 1).toString('base64url');
const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });
const cursorOf = (key: string[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
const reactionPath = (id: string, emoji: string) => `/api/v1/messages/${id}/reactions/${encodeURIComponent(emoji)}`;

/**
 * Every free-text field, as a body holding `text` in it: each is held to the same rules
 * (src/common/text-rules.ts). Sends and edits go to the direct conversation, which the last
 * test checks is unchanged.
 */
const FREE_TEXT_FIELDS: [field: string, method: 'post' | 'patch', path: () => string, body: (text: string) => unknown][] = [
  ['send: body', 'post', () => '/api/v1/messages', (text) => ({ conversationId: directId, body: text })],
  ['send to a recipient: body', 'post', () => '/api/v1/messages', (text) => ({ recipientId: bob.id, body: text })],
  ['edit: body', 'patch', () => `/api/v1/messages/${messageId}`, (text) => ({ body: text })],
  ['register: displayName', 'post', () => '/api/v1/auth/register', (text) => ({ username: 'valid_name', password: 'long enough', displayName: text })],
  ['group: title', 'post', () => '/api/v1/conversations', (text) => ({ type: 'group', title: text, memberIds: [] })],
  ['settings: displayName', 'patch', () => '/api/v1/users/me', (text) => ({ displayName: text })],
  ['rename: title', 'patch', () => `/api/v1/conversations/${groupId}`, (text) => ({ title: text })],
  ['create bot: displayName', 'post', () => '/api/v1/bots', (text) => ({ username: 'valid_bot', displayName: text })],
];

/** What no free text may hold (names and titles are also one line: their own cases above and below). */
const FREE_TEXT_REFUSALS: [rule: string, text: string][] = [
  ['a lone high surrogate', 'a\uD800b'],
  ['a lone low surrogate', 'a\uDC00b'],
  ['a high surrogate at the end', 'ab\uD83D'],
  ['a right-to-left override (U+202E)', 'invoice\u202Efdp.exe'],
  ['a left-to-right override (U+202D)', 'a\u202Db'],
  ['a right-to-left embedding (U+202B)', 'a\u202Bb\u202C'],
  ['a first-strong isolate (U+2068)', '\u2068a\u2069'],
  ['a pop directional isolate alone (U+2069)', 'a\u2069'],
  ['only zero-width spaces', '\u200B\u200B\u200B'],
  ['only a zero-width joiner', '\u200D'],
  ['only a word joiner and a Hangul filler', '\u2060\u3164'],
  ['only variation selectors', '\uFE0F\uFE0F'],
  ['only a soft hyphen among spaces', ' \u00AD '],
  ['only a control character', '\u0007'],
];

function textRuleCases(): Case[] {
  return FREE_TEXT_FIELDS.flatMap(([field, method, path, body]) =>
    FREE_TEXT_REFUSALS.map(([rule, text]): Case => [`${field} with ${rule}`, method, path, () => body(text), 400]),
  );
}

const cases: Case[] = [
  // Auth
  ['register: no body', 'post', () => '/api/v1/auth/register', undefined, 400],
  ['register: short username', 'post', () => '/api/v1/auth/register', { username: 'ab', password: 'long enough' }, 400],
  ['register: long username', 'post', () => '/api/v1/auth/register', { username: long(33), password: 'long enough' }, 400],
  ['register: username with a space', 'post', () => '/api/v1/auth/register', { username: 'a b c', password: 'long enough' }, 400],
  ['register: username with unicode', 'post', () => '/api/v1/auth/register', { username: 'zoë_x', password: 'long enough' }, 400],
  ['register: short password', 'post', () => '/api/v1/auth/register', { username: 'valid_name', password: 'short' }, 400],
  ['register: long password', 'post', () => '/api/v1/auth/register', { username: 'valid_name', password: long(129) }, 400],
  ['register: numeric password', 'post', () => '/api/v1/auth/register', { username: 'valid_name', password: 12345678 }, 400],
  ['register: blank displayName', 'post', () => '/api/v1/auth/register', { username: 'valid_name', password: 'long enough', displayName: '   ' }, 400],
  ['register: unknown field', 'post', () => '/api/v1/auth/register', { username: 'valid_name', password: 'long enough', role: 'admin' }, 400],
  ['login: missing password', 'post', () => '/api/v1/auth/login', { username: 'someone' }, 400],
  ['login: array body', 'post', () => '/api/v1/auth/login', [], 400],
  // Found by probing: class-transformer overflowed the stack copying it (500).
  ['login: JSON nested 3000 deep', 'post', () => '/api/v1/auth/login', { username: nested(3000), password: 'whatever1' }, 400],
  ['register: JSON nested 33 deep in an unknown field', 'post', () => '/api/v1/auth/register', { username: 'valid_name', password: 'long enough', x: nested(32) }, 400],
  // Found by the fuzzer: the rate limit's key was made from the username before validation.
  ['login: a username no string can be made of', 'post', () => '/api/v1/auth/login', { username: [{ toString: null }], password: 'whatever1' }, 400],
  ['refresh: no body', 'post', () => '/api/v1/auth/refresh', undefined, 400],
  ['refresh: numeric refreshToken', 'post', () => '/api/v1/auth/refresh', { refreshToken: 12345 }, 400],
  ['refresh: empty refreshToken', 'post', () => '/api/v1/auth/refresh', { refreshToken: '' }, 400],
  ['refresh: long refreshToken', 'post', () => '/api/v1/auth/refresh', { refreshToken: long(129) }, 400],
  ['refresh: unknown field', 'post', () => '/api/v1/auth/refresh', { refreshToken: 'abc', sessionId: '1' }, 400],
  ['refresh: array body', 'post', () => '/api/v1/auth/refresh', ['abc'], 400],
  ['refresh: NUL in the refreshToken', 'post', () => '/api/v1/auth/refresh', { refreshToken: 'a\u0000b' }, 400],
  ['delete session: malformed id', 'delete', () => '/api/v1/auth/sessions/abc', undefined, 404],
  ['delete session: id past bigint', 'delete', () => '/api/v1/auth/sessions/99999999999999999999', undefined, 404],
  // Users
  ['users: limit 0', 'get', () => '/api/v1/users?limit=0', undefined, 400],
  ['users: limit 101', 'get', () => '/api/v1/users?limit=101', undefined, 400],
  ['users: bad cursor', 'get', () => '/api/v1/users?cursor=@@@', undefined, 400],
  // Found by probing: these reached PostgreSQL and failed there (500).
  ['users: cursor holding NUL', 'get', () => `/api/v1/users?cursor=${cursorOf(['\u0000'])}`, undefined, 400],
  ['users: unknown parameter', 'get', () => '/api/v1/users?sort=name', undefined, 400],
  ['settings: blank displayName', 'patch', () => '/api/v1/users/me', { displayName: '  ' }, 400],
  ['settings: long displayName', 'patch', () => '/api/v1/users/me', { displayName: long(65) }, 400],
  ['settings: displayName over two lines', 'patch', () => '/api/v1/users/me', { displayName: 'a\nb' }, 400],
  ['settings: string shareReadReceipts', 'patch', () => '/api/v1/users/me', { shareReadReceipts: 'false' }, 400],
  ['settings: null sharePresence', 'patch', () => '/api/v1/users/me', { sharePresence: null }, 400],
  ['settings: unknown field', 'patch', () => '/api/v1/users/me', { username: 'someone_else' }, 400],
  ['settings: array body', 'patch', () => '/api/v1/users/me', [], 400],
  // Conversations
  ['conversation: no type', 'post', () => '/api/v1/conversations', { userId: '1' }, 400],
  ['conversation: unknown type', 'post', () => '/api/v1/conversations', { type: 'channel', userId: '1' }, 400],
  ['direct: no userId', 'post', () => '/api/v1/conversations', { type: 'direct' }, 400],
  ['direct: numeric userId', 'post', () => '/api/v1/conversations', { type: 'direct', userId: 1 }, 400],
  ['direct: malformed userId', 'post', () => '/api/v1/conversations', { type: 'direct', userId: "1' OR 1=1" }, 400],
  ['direct: with oneself', 'post', () => '/api/v1/conversations', () => ({ type: 'direct', userId: alice.id }), 400],
  ['direct: unknown user', 'post', () => '/api/v1/conversations', { type: 'direct', userId: '999999999' }, 404],
  // Found by probing: these were taken (201), the field dropped.
  ['direct: with a title', 'post', () => '/api/v1/conversations', () => ({ type: 'direct', userId: bob.id, title: 'x' }), 400],
  ['direct: with memberIds', 'post', () => '/api/v1/conversations', () => ({ type: 'direct', userId: bob.id, memberIds: [] }), 400],
  ['group: with a userId', 'post', () => '/api/v1/conversations', () => ({ type: 'group', title: 't', memberIds: [], userId: bob.id }), 400],
  // Calls that take no body: one sent anyway was ignored (201, 204).
  ['ws-ticket: with a body', 'post', () => '/api/v1/auth/ws-ticket', { foo: 1 }, 400],
  ['ws-ticket: with a JSON array', 'post', () => '/api/v1/auth/ws-ticket', [1], 400],
  ['logout: with a body', 'post', () => '/api/v1/auth/logout', { everywhere: true }, 400],
  ['delete session: with a body', 'delete', () => `/api/v1/auth/sessions/${alice.sessionId}`, { force: true }, 400],
  ['delete message: with a body', 'delete', () => `/api/v1/messages/${messageId}`, { force: true }, 400],
  ['remove member: with a body', 'delete', () => `/api/v1/conversations/${groupId}/members/${bob.id}`, { reason: 'x' }, 400],
  ['typing: with a body', 'post', () => `/api/v1/conversations/${groupId}/typing`, { conversationId: '1' }, 400],
  ['typing: with a JSON array', 'post', () => `/api/v1/conversations/${groupId}/typing`, [1], 400],
  ['group: no title', 'post', () => '/api/v1/conversations', { type: 'group', memberIds: [] }, 400],
  ['group: blank title', 'post', () => '/api/v1/conversations', { type: 'group', title: '  ', memberIds: [] }, 400],
  ['group: long title', 'post', () => '/api/v1/conversations', { type: 'group', title: long(201), memberIds: [] }, 400],
  ['group: memberIds not an array', 'post', () => '/api/v1/conversations', { type: 'group', title: 't', memberIds: '2' }, 400],
  ['group: memberIds with a number', 'post', () => '/api/v1/conversations', { type: 'group', title: 't', memberIds: [2] }, 400],
  ['group: unknown member', 'post', () => '/api/v1/conversations', { type: 'group', title: 't', memberIds: ['999999999'] }, 400],
  ['group: a field named like an Object member', 'post', () => '/api/v1/conversations', { type: 'group', title: 't', memberIds: [], constructor: 'x' }, 400],
  ['group: a field named prototype', 'post', () => '/api/v1/conversations', { type: 'group', title: 't', memberIds: [], prototype: 'x' }, 400],
  ['group: unknown field', 'post', () => '/api/v1/conversations', { type: 'group', title: 't', memberIds: [], ownerId: '1' }, 400],
  ['list: limit not a number', 'get', () => '/api/v1/conversations?limit=ten', undefined, 400],
  ['list: tampered cursor', 'get', () => `/api/v1/conversations?cursor=${Buffer.from('["x","1"]').toString('base64url')}`, undefined, 400],
  ...[['2026', '1'], ['1', '1'], ['-000001-01-01T00:00:00Z', '1'], ['+275760-09-13T00:00:00.000Z', '1'], ['2026-02-30 10:00:00+00', '1'], ['2026-11-23 09:00:00+00', '99999999999999999999']].map(
    (key): Case => [`list: cursor ${JSON.stringify(key)}`, 'get', () => `/api/v1/conversations?cursor=${cursorOf(key)}`, undefined, 400],
  ),
  ['members: empty list', 'post', () => `/api/v1/conversations/${groupId}/members`, { userIds: [] }, 400],
  ['members: not ids', 'post', () => `/api/v1/conversations/${groupId}/members`, { userIds: [{}] }, 400],
  ['members: unknown user', 'post', () => `/api/v1/conversations/${groupId}/members`, { userIds: ['999999999'] }, 400],
  ['remove: malformed user id', 'delete', () => `/api/v1/conversations/${groupId}/members/abc`, undefined, 404],
  ['remove: not a member', 'delete', () => `/api/v1/conversations/${groupId}/members/999999999`, undefined, 404],
  ['read: no seq', 'post', () => `/api/v1/conversations/${directId}/read`, {}, 400],
  ['read: negative seq', 'post', () => `/api/v1/conversations/${directId}/read`, { seq: -1 }, 400],
  ['read: fractional seq', 'post', () => `/api/v1/conversations/${directId}/read`, { seq: 1.5 }, 400],
  ['read: string seq', 'post', () => `/api/v1/conversations/${directId}/read`, { seq: '1' }, 400],
  ['read: huge seq', 'post', () => `/api/v1/conversations/${directId}/read`, { seq: 1e300 }, 400],
  ['conversation: malformed id', 'get', () => '/api/v1/conversations/abc', undefined, 404],
  ['conversation: negative id', 'get', () => '/api/v1/conversations/-1', undefined, 404],
  ['conversation: id past bigint', 'get', () => '/api/v1/conversations/99999999999999999999999', undefined, 404],
  ['typing: malformed conversation id', 'post', () => '/api/v1/conversations/abc/typing', undefined, 404],
  ['typing: conversation id past bigint', 'post', () => '/api/v1/conversations/99999999999999999999999/typing', undefined, 404],
  ['typing: unknown conversation', 'post', () => '/api/v1/conversations/999999999/typing', undefined, 404],
  // Presence
  ['presence: no userIds', 'get', () => '/api/v1/presence', undefined, 400],
  ['presence: empty userIds', 'get', () => '/api/v1/presence?userIds=', undefined, 400],
  ['presence: a malformed id', 'get', () => '/api/v1/presence?userIds=1,abc', undefined, 400],
  ['presence: an empty id between commas', 'get', () => '/api/v1/presence?userIds=1,,2', undefined, 400],
  ['presence: a negative id', 'get', () => '/api/v1/presence?userIds=-1', undefined, 400],
  ['presence: an id past bigint', 'get', () => '/api/v1/presence?userIds=99999999999999999999999', undefined, 400],
  ['presence: an SQL-looking id', 'get', () => `/api/v1/presence?userIds=${encodeURIComponent("1) OR (1=1")}`, undefined, 400],
  ['presence: 101 users', 'get', () => `/api/v1/presence?userIds=${Array.from({ length: 101 }, (_, i) => i + 1).join(',')}`, undefined, 400],
  ['presence: userIds repeated', 'get', () => '/api/v1/presence?userIds=1&userIds=2', undefined, 400],
  ['presence: NUL in userIds', 'get', () => '/api/v1/presence?userIds=1%00', undefined, 400],
  ['presence: unknown parameter', 'get', () => '/api/v1/presence?userIds=1&status=online', undefined, 400],
  // History and changes
  ['history: before=abc', 'get', () => `/api/v1/conversations/${directId}/messages?before=abc`, undefined, 400],
  ['history: after=-1', 'get', () => `/api/v1/conversations/${directId}/messages?after=-1`, undefined, 400],
  ['history: limit=0', 'get', () => `/api/v1/conversations/${directId}/messages?limit=0`, undefined, 400],
  ['history: limit=101', 'get', () => `/api/v1/conversations/${directId}/messages?limit=101`, undefined, 400],
  ['history: limit=1.5', 'get', () => `/api/v1/conversations/${directId}/messages?limit=1.5`, undefined, 400],
  ['history: before past 2^53', 'get', () => `/api/v1/conversations/${directId}/messages?before=99999999999999999999`, undefined, 400],
  ['history: a parameter named like an Object member', 'get', () => `/api/v1/conversations/${directId}/messages?toString=1`, undefined, 400],
  ['history: a parameter named prototype', 'get', () => `/api/v1/conversations/${directId}/messages?prototype=1`, undefined, 400],
  ['history: unknown parameter', 'get', () => `/api/v1/conversations/${directId}/messages?page=2`, undefined, 400],
  ['changes: no since', 'get', () => `/api/v1/conversations/${directId}/changes`, undefined, 400],
  // Renaming a group
  ['rename: no body', 'patch', () => `/api/v1/conversations/${groupId}`, undefined, 400],
  ['rename: no title', 'patch', () => `/api/v1/conversations/${groupId}`, {}, 400],
  ['rename: blank title', 'patch', () => `/api/v1/conversations/${groupId}`, { title: '   ' }, 400],
  ['rename: long title', 'patch', () => `/api/v1/conversations/${groupId}`, { title: long(201) }, 400],
  ['rename: numeric title', 'patch', () => `/api/v1/conversations/${groupId}`, { title: 5 }, 400],
  ['rename: null title', 'patch', () => `/api/v1/conversations/${groupId}`, { title: null }, 400],
  ['rename: title over two lines', 'patch', () => `/api/v1/conversations/${groupId}`, { title: 'a\nb' }, 400],
  ['rename: unknown field', 'patch', () => `/api/v1/conversations/${groupId}`, { title: 't', ownerId: '1' }, 400],
  ['rename: array body', 'patch', () => `/api/v1/conversations/${groupId}`, [], 400],
  ['rename: a direct conversation', 'patch', () => `/api/v1/conversations/${directId}`, { title: 't' }, 400],
  ['rename: malformed id', 'patch', () => '/api/v1/conversations/abc', { title: 't' }, 404],
  ['rename: unknown conversation', 'patch', () => '/api/v1/conversations/999999999', { title: 't' }, 404],
  // Read receipts
  ['receipts: malformed id', 'get', () => '/api/v1/conversations/1.5/receipts', undefined, 404],
  ['receipts: unknown conversation', 'get', () => '/api/v1/conversations/999999999/receipts', undefined, 404],
  // Searching messages
  ['search: no q', 'get', () => '/api/v1/search/messages', undefined, 400],
  ['search: empty q', 'get', () => '/api/v1/search/messages?q=', undefined, 400],
  ['search: blank q', 'get', () => '/api/v1/search/messages?q=%20%09%20', undefined, 400],
  ['search: q of 201 characters', 'get', () => `/api/v1/search/messages?q=${long(201)}`, undefined, 400],
  ['search: two q', 'get', () => '/api/v1/search/messages?q=a&q=b', undefined, 400],
  ['search: NUL in q', 'get', () => '/api/v1/search/messages?q=a%00b', undefined, 400],
  ['search: malformed conversationId', 'get', () => '/api/v1/search/messages?q=a&conversationId=abc', undefined, 400],
  ['search: conversationId past bigint', 'get', () => '/api/v1/search/messages?q=a&conversationId=99999999999999999999', undefined, 400],
  ['search: malformed senderId', 'get', () => "/api/v1/search/messages?q=a&senderId=1%27%20OR%201=1", undefined, 400],
  ['search: from not a time', 'get', () => '/api/v1/search/messages?q=a&from=yesterday', undefined, 400],
  // Found by probing the admin search, which shares the rule: ISO 8601 that PostgreSQL does not read (500).
  ['search: from a year alone', 'get', () => '/api/v1/search/messages?q=a&from=2026', undefined, 400],
  ['search: from a week date', 'get', () => '/api/v1/search/messages?q=a&from=2026-W01-1', undefined, 400],
  ['search: to an ordinal date', 'get', () => '/api/v1/search/messages?q=a&to=2026-032', undefined, 400],
  ['search: to a signed year', 'get', () => '/api/v1/search/messages?q=a&to=%2B002026-01-01', undefined, 400],
  ['search: to year zero', 'get', () => '/api/v1/search/messages?q=a&to=0000-01-01', undefined, 400],
  ['search: from the 30th of February', 'get', () => '/api/v1/search/messages?q=a&from=2026-02-30', undefined, 400],
  ['search: limit 0', 'get', () => '/api/v1/search/messages?q=a&limit=0', undefined, 400],
  ['search: limit 101', 'get', () => '/api/v1/search/messages?q=a&limit=101', undefined, 400],
  ['search: tampered cursor', 'get', () => '/api/v1/search/messages?q=a&cursor=@@@', undefined, 400],
  ['search: cursor past bigint', 'get', () => `/api/v1/search/messages?q=a&cursor=${cursorOf(['99999999999999999999'])}`, undefined, 400],
  ['search: unknown parameter', 'get', () => '/api/v1/search/messages?q=a&sort=oldest', undefined, 400],
  ['search: unknown conversation', 'get', () => '/api/v1/search/messages?q=a&conversationId=999999999', undefined, 404],
  // Messages
  ['send: no body', 'post', () => '/api/v1/messages', undefined, 400],
  ['send: empty object', 'post', () => '/api/v1/messages', {}, 400],
  ['send: no target', 'post', () => '/api/v1/messages', { body: 'hi' }, 400],
  ['send: both targets', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, recipientId: bob.id, body: 'hi' }), 400],
  ['send: empty body', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: '' }), 400],
  ['send: whitespace body', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: ' \n\t ' }), 400],
  ['send: body too long', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: long(4001) }), 400],
  ['send: numeric body', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 42 }), 400],
  ['send: object body', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: { text: 'hi' } }), 400],
  ['send: null body', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: null }), 400],
  ['send: numeric conversationId', 'post', () => '/api/v1/messages', { conversationId: 1, body: 'hi' }, 400],
  ['send: malformed conversationId', 'post', () => '/api/v1/messages', { conversationId: 'abc', body: 'hi' }, 400],
  ['send: unknown conversation', 'post', () => '/api/v1/messages', { conversationId: '999999999', body: 'hi' }, 404],
  ['send: unknown recipient', 'post', () => '/api/v1/messages', { recipientId: '999999999', body: 'hi' }, 404],
  ['send: recipient is oneself', 'post', () => '/api/v1/messages', () => ({ recipientId: alice.id, body: 'hi' }), 400],
  ['send: empty clientMessageId', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'hi', clientMessageId: '' }), 400],
  ['send: long clientMessageId', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'hi', clientMessageId: long(101) }), 400],
  ['send: null recipient, no conversation', 'post', () => '/api/v1/messages', { recipientId: null, body: 'hi' }, 400],
  ['send: a field named like an Object member', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'hi', toString: 'x' }), 400],
  ['send: unknown field', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'hi', seq: 7 }), 400],
  ['send: NUL in the body', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'a\u0000b' }), 400],
  ['login: NUL in the username', 'post', () => '/api/v1/auth/login', { username: 'a\u0000b', password: 'whatever1' }, 400],
  ['users: NUL in q', 'get', () => '/api/v1/users?q=a%00b', undefined, 400],
  ['send: prototype pollution', 'post', () => '/api/v1/messages', JSON.parse('{"conversationId":"1","body":"hi","__proto__":{"admin":true}}'), 400],
  ['get: malformed id', 'get', () => '/api/v1/messages/1.5', undefined, 404],
  ['get: unknown id', 'get', () => '/api/v1/messages/999999999', undefined, 404],
  ['edit: empty body', 'patch', () => `/api/v1/messages/${messageId}`, { body: '   ' }, 400],
  ['edit: unknown field', 'patch', () => `/api/v1/messages/${messageId}`, () => ({ body: 'x', senderId: bob.id }), 400],
  ['edit: malformed id', 'patch', () => '/api/v1/messages/abc', { body: 'x' }, 404],
  ['delete: malformed id', 'delete', () => '/api/v1/messages/0', undefined, 404],
  // Attachments
  ['upload: a JSON body', 'post', () => '/api/v1/attachments', { file: 'aGVsbG8=' }, 415],
  ['upload: no body', 'post', () => '/api/v1/attachments', undefined, 415],
  ['attachment: malformed id', 'get', () => '/api/v1/attachments/abc', undefined, 404],
  ['attachment: unknown id', 'get', () => '/api/v1/attachments/999999999', undefined, 404],
  ['content: id past bigint', 'get', () => '/api/v1/attachments/99999999999999999999/content', undefined, 404],
  ['thumbnail: negative id', 'get', () => '/api/v1/attachments/-1/thumbnail', undefined, 404],
  ['content: unknown parameter', 'get', () => '/api/v1/attachments/1/content?download=1', undefined, 400],
  ['content: a signature too long', 'get', () => `/api/v1/attachments/1/content?user=1&expires=1&signature=${long(129)}`, undefined, 400],
  ['content: a link with a bad expiry', 'get', () => '/api/v1/attachments/1/content?user=1&expires=soon&signature=x', undefined, 404],
  ['content: a link without its user', 'get', () => '/api/v1/attachments/1/content?expires=1&signature=x', undefined, 404],
  ['send: attachmentIds not a list', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'hi', attachmentIds: '1' }), 400],
  ['send: attachmentIds with a number', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, attachmentIds: [1] }), 400],
  ['send: attachmentIds with a malformed id', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, attachmentIds: ['1 OR 1=1'] }), 400],
  ['send: 11 attachmentIds', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, attachmentIds: Array.from({ length: 11 }, (_, i) => String(i + 1)) }), 400],
  ['send: a repeated attachmentId', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, attachmentIds: ['5', '5'] }), 400],
  ['send: attachmentIds naming nothing', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, attachmentIds: ['999999999'] }), 400],
  ['send: attachments and a body too long', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, attachmentIds: ['999999999'], body: long(4001) }), 400],
  ['send: attachments and a blank-looking body', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, attachmentIds: ['999999999'], body: '\u200B' }), 400],
  ['edit: null attachmentIds', 'patch', () => `/api/v1/messages/${messageId}`, { attachmentIds: null }, 400],
  ['edit: attachmentIds naming nothing', 'patch', () => `/api/v1/messages/${messageId}`, { attachmentIds: ['999999999'] }, 400],
  ['edit: attachmentIds, a numeric body', 'patch', () => `/api/v1/messages/${messageId}`, { attachmentIds: [], body: 5 }, 400],
  ['edit: empty body without attachmentIds', 'patch', () => `/api/v1/messages/${messageId}`, { body: '' }, 400],
  ['admin: delete an attachment as a user', 'delete', () => '/api/v1/admin/attachments/1', undefined, 403],
  // Replies
  ['send: numeric replyToId', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'hi', replyToId: Number(messageId) }), 400],
  ['send: malformed replyToId', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'hi', replyToId: "1' OR 1=1" }), 400],
  ['send: replyToId past bigint', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'hi', replyToId: '99999999999999999999' }), 400],
  ['send: replyToId of no message', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'hi', replyToId: '999999999' }), 400],
  ['send: replyToId of another conversation', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'hi', replyToId: groupMessageId }), 400],
  ['send: replyToId an object', 'post', () => '/api/v1/messages', () => ({ conversationId: directId, body: 'hi', replyToId: { id: messageId } }), 400],
  ['thread: after=-1', 'get', () => `/api/v1/messages/${messageId}/thread?after=-1`, undefined, 400],
  ['thread: after=abc', 'get', () => `/api/v1/messages/${messageId}/thread?after=abc`, undefined, 400],
  ['thread: limit=0', 'get', () => `/api/v1/messages/${messageId}/thread?limit=0`, undefined, 400],
  ['thread: limit=101', 'get', () => `/api/v1/messages/${messageId}/thread?limit=101`, undefined, 400],
  ['thread: unknown parameter', 'get', () => `/api/v1/messages/${messageId}/thread?before=3`, undefined, 400],
  ['thread: malformed id', 'get', () => '/api/v1/messages/abc/thread', undefined, 404],
  ['thread: unknown message', 'get', () => '/api/v1/messages/999999999/thread', undefined, 404],
  // Reactions
  ['react: two emoji', 'put', () => reactionPath(messageId, '👍👍'), undefined, 400],
  ['react: text', 'put', () => reactionPath(messageId, 'ok'), undefined, 400],
  ['react: a bare digit', 'put', () => reactionPath(messageId, '7'), undefined, 400],
  ['react: malformed percent-encoding', 'put', () => `/api/v1/messages/${messageId}/reactions/%zz`, undefined, 400],
  ['react: half an encoded emoji', 'put', () => `/api/v1/messages/${messageId}/reactions/%F0%9F`, undefined, 400],
  ['react: 60 emoji (over 100 characters)', 'put', () => reactionPath(messageId, '👍'.repeat(60)), undefined, 414],
  ['react: 40 emoji', 'put', () => reactionPath(messageId, '👍'.repeat(40)), undefined, 400],
  ['react: NUL', 'put', () => `/api/v1/messages/${messageId}/reactions/%00`, undefined, 400],
  ['react: with a body', 'put', () => reactionPath(messageId, '👍'), { emoji: '👍' }, 400],
  ['react: malformed id', 'put', () => reactionPath('abc', '👍'), undefined, 404],
  ['react: unknown message', 'put', () => reactionPath('999999999', '👍'), undefined, 404],
  ['unreact: text', 'delete', () => reactionPath(messageId, 'ok'), undefined, 400],
  ['unreact: with a body', 'delete', () => reactionPath(messageId, '👍'), { force: true }, 400],
  ['unreact: unknown message', 'delete', () => reactionPath('999999999', '👍'), undefined, 404],
  ['reactors: text', 'get', () => reactionPath(messageId, 'ok'), undefined, 400],
  ['reactors: limit=0', 'get', () => `${reactionPath(messageId, '👍')}?limit=0`, undefined, 400],
  ['reactors: limit=101', 'get', () => `${reactionPath(messageId, '👍')}?limit=101`, undefined, 400],
  ['reactors: bad cursor', 'get', () => `${reactionPath(messageId, '👍')}?cursor=@@@`, undefined, 400],
  ['reactors: cursor of another list', 'get', () => `${reactionPath(messageId, '👍')}?cursor=${cursorOf(['alice'])}`, undefined, 400],
  ['reactors: cursor holding NUL', 'get', () => `${reactionPath(messageId, '👍')}?cursor=${cursorOf(['2026-11-23 09:00:00+00', '\u0000'])}`, undefined, 400],
  ['reactors: unknown parameter', 'get', () => `${reactionPath(messageId, '👍')}?q=x`, undefined, 400],
  ['reactors: unknown message', 'get', () => reactionPath('999999999', '👍'), undefined, 404],
  // Pins
  ['pin: malformed message id', 'put', () => `/api/v1/conversations/${directId}/pins/abc`, undefined, 404],
  ['pin: unknown message', 'put', () => `/api/v1/conversations/${directId}/pins/999999999`, undefined, 404],
  ['pin: a message of another conversation', 'put', () => `/api/v1/conversations/${directId}/pins/${groupMessageId}`, undefined, 404],
  ['pin: malformed conversation id', 'put', () => `/api/v1/conversations/abc/pins/${messageId}`, undefined, 404],
  ['pin: with a body', 'put', () => `/api/v1/conversations/${directId}/pins/${messageId}`, { pinned: true }, 400],
  ['pin: with a JSON array', 'put', () => `/api/v1/conversations/${directId}/pins/${messageId}`, [1], 400],
  ['unpin: with a body', 'delete', () => `/api/v1/conversations/${directId}/pins/${messageId}`, { force: true }, 400],
  ['unpin: a message of another conversation', 'delete', () => `/api/v1/conversations/${directId}/pins/${groupMessageId}`, undefined, 404],
  ['pins: malformed conversation id', 'get', () => '/api/v1/conversations/abc/pins', undefined, 404],
  // Bots and webhooks
  ['create bot: no body', 'post', () => '/api/v1/bots', undefined, 400],
  ['create bot: short username', 'post', () => '/api/v1/bots', { username: 'ab' }, 400],
  ['create bot: username with a space', 'post', () => '/api/v1/bots', { username: 'a b c' }, 400],
  ['create bot: numeric username', 'post', () => '/api/v1/bots', { username: 12345678 }, 400],
  ['create bot: long displayName', 'post', () => '/api/v1/bots', { username: 'valid_bot', displayName: long(65) }, 400],
  ['create bot: unknown field', 'post', () => '/api/v1/bots', { username: 'valid_bot', ownerId: '1' }, 400],
  ['create bot: a JSON array', 'post', () => '/api/v1/bots', [1], 400],
  ['bot token: malformed id', 'post', () => '/api/v1/bots/abc/token', undefined, 404],
  ['bot token: id past bigint', 'post', () => '/api/v1/bots/99999999999999999999/token', undefined, 404],
  ['bot token: a user who is no bot', 'post', () => `/api/v1/bots/${alice.id}/token`, undefined, 404],
  ['bot token: with a body', 'post', () => `/api/v1/bots/${botId}/token`, { force: true }, 400],
  ['delete bot: malformed id', 'delete', () => '/api/v1/bots/abc', undefined, 404],
  ['delete bot: with a body', 'delete', () => `/api/v1/bots/${botId}`, { force: true }, 400],
  ['webhook: no body', 'put', () => `/api/v1/bots/${botId}/webhook`, undefined, 400],
  ['webhook: no url', 'put', () => `/api/v1/bots/${botId}/webhook`, {}, 400],
  ['webhook: url a number', 'put', () => `/api/v1/bots/${botId}/webhook`, { url: 5 }, 400],
  ['webhook: not a URL', 'put', () => `/api/v1/bots/${botId}/webhook`, { url: 'not a url' }, 400],
  ['webhook: ftp', 'put', () => `/api/v1/bots/${botId}/webhook`, { url: 'ftp://example.com/hook' }, 400],
  ['webhook: javascript', 'put', () => `/api/v1/bots/${botId}/webhook`, { url: 'javascript:alert(1)' }, 400],
  ['webhook: credentials in the URL', 'put', () => `/api/v1/bots/${botId}/webhook`, { url: 'https://user:pass@example.com/hook' }, 400],
  ['webhook: URL over 2048 characters', 'put', () => `/api/v1/bots/${botId}/webhook`, { url: `https://example.com/${long(2048)}` }, 400],
  ['webhook: unknown field', 'put', () => `/api/v1/bots/${botId}/webhook`, { url: 'https://example.com/hook', secret: 'mine' }, 400],
  ['webhook: malformed bot id', 'put', () => '/api/v1/bots/abc/webhook', { url: 'https://example.com/hook' }, 404],
  ['webhook: a user who is no bot', 'put', () => `/api/v1/bots/${bob.id}/webhook`, { url: 'https://example.com/hook' }, 404],
  ['delete webhook: none set', 'delete', () => `/api/v1/bots/${botId}/webhook`, undefined, 404],
  ['delete webhook: with a body', 'delete', () => `/api/v1/bots/${botId}/webhook`, { force: true }, 400],
  ['admin bots: as a user', 'get', () => '/api/v1/admin/bots', undefined, 403],
  // Web Push and conversation settings
  ['subscribe: no body', 'post', () => '/api/v1/push/subscriptions', undefined, 400],
  ['subscribe: no keys', 'post', () => '/api/v1/push/subscriptions', { endpoint: 'https://push.example.com/x' }, 400],
  ['subscribe: keys a string', 'post', () => '/api/v1/push/subscriptions', { endpoint: 'https://push.example.com/x', keys: 'x' }, 400],
  ['subscribe: short p256dh', 'post', () => '/api/v1/push/subscriptions', { endpoint: 'https://push.example.com/x', keys: { p256dh: 'abc', auth: AUTH } }, 400],
  ['subscribe: p256dh 65 bytes but not a point on P-256', 'post', () => '/api/v1/push/subscriptions', { endpoint: 'https://push.example.com/x', keys: { p256dh: Buffer.alloc(65, 4).toString('base64url'), auth: AUTH } }, 400],
  ['subscribe: auth not base64url', 'post', () => '/api/v1/push/subscriptions', { endpoint: 'https://push.example.com/x', keys: { p256dh: P256DH, auth: '!'.repeat(22) } }, 400],
  ['subscribe: unknown field in keys', 'post', () => '/api/v1/push/subscriptions', { endpoint: 'https://push.example.com/x', keys: { p256dh: P256DH, auth: AUTH, x: 1 } }, 400],
  ['subscribe: endpoint a number', 'post', () => '/api/v1/push/subscriptions', { endpoint: 5, keys: { p256dh: P256DH, auth: AUTH } }, 400],
  ['subscribe: ftp endpoint', 'post', () => '/api/v1/push/subscriptions', { endpoint: 'ftp://push.example.com/x', keys: { p256dh: P256DH, auth: AUTH } }, 400],
  ['subscribe: endpoint not a URL', 'post', () => '/api/v1/push/subscriptions', { endpoint: 'push here', keys: { p256dh: P256DH, auth: AUTH } }, 400],
  ['subscribe: expirationTime a string', 'post', () => '/api/v1/push/subscriptions', { endpoint: 'https://push.example.com/x', expirationTime: 'soon', keys: { p256dh: P256DH, auth: AUTH } }, 400],
  ['subscribe: unknown field', 'post', () => '/api/v1/push/subscriptions', { endpoint: 'https://push.example.com/x', keys: { p256dh: P256DH, auth: AUTH }, userId: '1' }, 400],
  ['unsubscribe: malformed id', 'delete', () => '/api/v1/push/subscriptions/abc', undefined, 404],
  ['unsubscribe: unknown subscription', 'delete', () => '/api/v1/push/subscriptions/999999999', undefined, 404],
  ['unsubscribe: with a body', 'delete', () => '/api/v1/push/subscriptions/999999999', { force: true }, 400],
  ['conversation settings: no body', 'patch', () => `/api/v1/conversations/${groupId}/settings`, undefined, 400],
  ['conversation settings: muted a string', 'patch', () => `/api/v1/conversations/${groupId}/settings`, { muted: 'yes' }, 400],
  ['conversation settings: muted null', 'patch', () => `/api/v1/conversations/${groupId}/settings`, { muted: null }, 400],
  ['conversation settings: unknown field', 'patch', () => `/api/v1/conversations/${groupId}/settings`, { muted: true, pinned: true }, 400],
  ['conversation settings: malformed id', 'patch', () => '/api/v1/conversations/abc/settings', { muted: true }, 404],
  ['conversation settings: unknown conversation', 'patch', () => '/api/v1/conversations/999999999/settings', { muted: true }, 404],
  ['unknown route', 'get', () => '/api/v1/nothing-here', undefined, 404],
  ...textRuleCases(),
];


describe('bad input gets a clear 4xx in the contract’s error shape', () => {
  // The title shows each case's expected status (%i alone would take the method, the second item).
  const titled = cases.map(([name, method, path, body, status]) => [`${name} → ${status}`, method, path, body, status] as const);
  it.each(titled)('%s', async (_name, method, path, bodyOrThunk, status) => {
    const body = typeof bodyOrThunk === 'function' ? bodyOrThunk() : bodyOrThunk;
    const request = app.http()[method](path()).set(alice.auth);
    const response = body === undefined ? await request : await request.send(body as object);
    expect(response.status).toBe(status);
    expect(response.body).toEqual({
      statusCode: status,
      error: expect.any(String),
      message: expect.anything(),
    });
    expect(JSON.stringify(response.body)).not.toMatch(/at \w+ \(|node_modules|SELECT|INSERT|QueryFailedError/);
  });

  // The pipe reports a field's first failing check: a value of the wrong type must be told its
  // type, not a range or length it was never going to meet.
  it.each([
    ['get', '/api/v1/users?limit=abc', undefined, 'limit must be an integer number'],
    ['get', '/api/v1/users?limit=1000', undefined, 'limit must not be greater than 100'],
    ['get', '/api/v1/users?q=a&q=b', undefined, 'q must be a string'],
    ['get', '/api/v1/users?cursor=a&cursor=b', undefined, 'cursor must be a string'],
    ['get', '/api/v1/conversations/1/messages?after=abc', undefined, 'after must be an integer number'],
    ['get', '/api/v1/conversations/1/messages?before=5&before=6', undefined, 'before must be an integer number'],
    // Number() took these (as 16, 10 and 0).
    ['get', '/api/v1/conversations/1/messages?after=0x10', undefined, 'after must be an integer number'],
    ['get', '/api/v1/conversations/1/messages?after=1e1', undefined, 'after must be an integer number'],
    ['get', '/api/v1/conversations/1/messages?before=%20', undefined, 'before must be an integer number'],
    ['get', '/api/v1/users?limit=', undefined, 'limit must be an integer number'],
    ['get', '/api/v1/conversations/1/messages?after=99999999999999999999', undefined, 'after must not be greater than 9007199254740991'],
    ['get', '/api/v1/conversations/1/changes', undefined, 'since must be an integer number'],
    ['post', '/api/v1/conversations/1/read', { seq: 'abc' }, 'seq must be an integer number'],
    ['post', '/api/v1/conversations/1/read', {}, 'seq must be an integer number'],
    ['post', '/api/v1/conversations/1/read', { seq: -1 }, 'seq must not be less than 0'],
    ['post', '/api/v1/conversations', { type: 'group', title: 't', memberIds: '2' }, 'memberIds must be an array'],
    ['post', '/api/v1/conversations', { type: 'group', title: 5, memberIds: [] }, 'title must be a string'],
    ['post', '/api/v1/conversations', { type: 'direct', userId: '2', title: 't' }, 'title is only for group conversations'],
    ['post', '/api/v1/conversations', { type: 'group', title: 't', memberIds: [], userId: '2' }, 'userId is only for direct conversations'],
    ['post', '/api/v1/auth/ws-ticket', { foo: 1 }, 'property foo should not exist'],
    ['post', '/api/v1/conversations/1/members', { userIds: '3' }, 'userIds must be an array'],
    ['post', '/api/v1/conversations/1/members', { userIds: [] }, 'userIds must contain at least 1 elements'],
    ['get', '/api/v1/presence', undefined, 'userIds must be comma-separated ids'],
    ['get', '/api/v1/presence?userIds=1,x', undefined, 'userIds must be comma-separated ids (decimal strings)'],
    ['get', `/api/v1/presence?userIds=${Array.from({ length: 101 }, (_, i) => i + 1).join(',')}`, undefined, 'userIds must name at most 100 users'],
    ['post', '/api/v1/auth/register', { username: 'valid_name', password: 12345678 }, 'password must be a string'],
    ['post', '/api/v1/auth/register', { username: 'valid_name', password: 'long enough', displayName: 5 }, 'displayName must be a string'],
    ['post', '/api/v1/auth/login', { username: 5, password: 'long enough' }, 'username must be a string'],
    ['post', '/api/v1/auth/register', { username: 'valid_name', password: 'long enough', displayName: 'two\nlines' }, 'displayName must not contain control characters or text-direction overrides'],
    ['post', '/api/v1/auth/register', { username: 'valid_name', password: 'long enough', displayName: 'admin\u202Etxt.exe' }, 'displayName must not contain control characters or text-direction overrides'],
    ['post', '/api/v1/conversations', { type: 'group', title: 'tab\there', memberIds: [] }, 'title must not contain control characters or text-direction overrides'],
    ['post', '/api/v1/conversations', { type: 'group', title: '\u2066isolated\u2069', memberIds: [] }, 'title must not contain control characters or text-direction overrides'],
    // Found by probing: taken before, a name that shows as nothing or breaks the line.
    ['post', '/api/v1/auth/register', { username: 'valid_name', password: 'long enough', displayName: '\u200B' }, 'displayName must not be blank'],
    ['post', '/api/v1/auth/register', { username: 'valid_name', password: 'long enough', displayName: '\u3164 \u2060' }, 'displayName must not be blank'],
    ['post', '/api/v1/auth/register', { username: 'valid_name', password: 'long enough', displayName: 'a\u2028b' }, 'displayName must not contain control characters or text-direction overrides'],
    ['post', '/api/v1/conversations', { type: 'group', title: '\u200B\u200B', memberIds: [] }, 'title must not be blank'],
    ['post', '/api/v1/conversations', { type: 'group', title: 'a\u2029b', memberIds: [] }, 'title must not contain control characters or text-direction overrides'],
    // A message body is held to the same rules, but for line breaks and tabs.
    ['post', '/api/v1/messages', { conversationId: '1', body: '\u200B\u200D' }, 'body must not be blank'],
    ['post', '/api/v1/messages', { conversationId: '1', body: 'admin\u202Etxt.exe' }, 'body must not contain text-direction overrides'],
    ['post', '/api/v1/messages', { conversationId: '1', body: '\u2066x\u2069' }, 'body must not contain text-direction overrides'],
    ['patch', '/api/v1/messages/1', { body: '\u3164' }, 'body must not be blank'],
    ['patch', '/api/v1/messages/1', { body: 'a\u202Eb' }, 'body must not contain text-direction overrides'],
    // Attachments: with one, the body may be empty; the ids are told what is wrong with them.
    ['post', '/api/v1/messages', { conversationId: '1', attachmentIds: 'x' }, 'attachmentIds must be an array'],
    ['post', '/api/v1/messages', { conversationId: '1', attachmentIds: [1] }, 'each value in attachmentIds must be an id (a decimal string)'],
    ['post', '/api/v1/messages', { conversationId: '1', attachmentIds: ['1', '1'] }, "All attachmentIds's elements must be unique"],
    ['post', '/api/v1/messages', { conversationId: '1', attachmentIds: [] }, 'body must be 1–4000 characters after trimming'],
    ['post', '/api/v1/messages', { conversationId: '1', attachmentIds: ['1'], body: 'x'.repeat(4001) }, 'body must be 0–4000 characters after trimming'],
    ['patch', '/api/v1/messages/1', { attachmentIds: [1] }, 'each value in attachmentIds must be an id (a decimal string)'],
    ['patch', '/api/v1/messages/1', {}, 'body must be 1–4000 characters after trimming'],
    ['patch', '/api/v1/messages/1', { attachmentIds: [], body: 'x'.repeat(4001) }, 'body must be 0–4000 characters after trimming'],
  ] as const)('%s %s %j is told: %s', async (method, path, body, message) => {
    const request = app.http()[method](path).set(alice.auth);
    const response = body === undefined ? await request : await request.send(body);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ statusCode: 400, error: 'Bad Request', message: [message] });
  });

  it.each([
    ['post', '/api/v1/messages', { conversationId: '1', body: 'a\uD800b' }],
    ['patch', '/api/v1/messages/1', { body: '\uDFFF' }],
    ['post', '/api/v1/auth/register', { username: 'valid_name', password: 'long enough', displayName: 'x\uDBFF' }],
    ['post', '/api/v1/conversations', { type: 'group', title: '\uD83D', memberIds: [] }],
    // Not only free text: a lone surrogate cannot be stored or compared faithfully anywhere.
    ['post', '/api/v1/auth/login', { username: 'alice', password: 'long enough\uD800' }],
  ] as const)('%s %s %j is told that a lone surrogate is not text', async (method, path, body) => {
    const response = await app.http()[method](path).set(alice.auth).send(body);
    expect(response.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Text must not contain unpaired surrogates (U+D800–U+DFFF alone); send well-formed UTF-8 or UTF-16',
    });
  });

  it('refuses a body that is not UTF-8, an encoded lone surrogate among them, instead of replacing it', async () => {
    const raw = (json: string, ...bytes: number[]) => {
      const [before, after] = json.split('%s');
      return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);
    };
    const bodies: [string, Buffer][] = [
      ['/api/v1/messages', raw(`{"conversationId":"${groupId}","body":"a%sb"}`, 0xed, 0xa0, 0x80)],
      ['/api/v1/messages', raw(`{"conversationId":"${groupId}","body":"a%sb"}`, 0xff)],
      ['/api/v1/messages', raw(`{"conversationId":"${groupId}","body":"a%sb"}`, 0xc3)],
      ['/api/v1/conversations', raw('{"type":"group","title":"t%s","memberIds":[]}', 0xed, 0xbf, 0xbf)],
    ];
    // As bytes: supertest would serialize a Buffer as JSON.
    const post = (path: string, bytes: Buffer) =>
      fetch(`${app.url}${path}`, { method: 'POST', headers: { ...alice.auth, 'Content-Type': 'application/json' }, body: bytes });
    for (const [path, bytes] of bodies) {
      const response = await post(path, bytes);
      expect(response.status, bytes.toString('hex')).toBe(400);
      expect(await response.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Body is not valid UTF-8' });
    }
    // Well-formed UTF-8 beyond the BMP, sent as bytes, is taken as it is.
    const emoji = await post('/api/v1/messages', Buffer.from(JSON.stringify({ conversationId: groupId, body: 'ok 😀' })));
    expect(emoji.status).toBe(201);
    expect(((await emoji.json()) as { body: string }).body).toBe('ok 😀');
  });

  it('takes bodies in any script: right-to-left text, its direction marks, emoji sequences, several lines', async () => {
    for (const body of ['مرحبا بالعالم', 'שלום עולם', 'abc \u200Fשלום\u200E def \u061C', '👩‍👩‍👧 🏳️‍🌈 👍🏽', 'line one\n\tline two', 'zero\u200Bwidth inside']) {
      const sent = await app.http().post('/api/v1/messages').set(alice.auth).send({ conversationId: groupId, body });
      expect(sent.status, JSON.stringify(body)).toBe(201);
      expect(sent.body.body).toBe(body);
      const edited = await app.http().patch(`/api/v1/messages/${sent.body.id}`).set(alice.auth).send({ body: `${body} ✓` });
      expect(edited.status, JSON.stringify(body)).toBe(200);
    }
  });

  it('takes names and titles in any script, emoji sequences and right-to-left text included', async () => {
    const displayName = '👩‍💻 Ada · علي · 李雷';
    const registered = await app.http().post('/api/v1/auth/register').send({ username: `names_${Date.now()}`, password: 'long enough', displayName });
    expect(registered.status).toBe(201);
    expect(registered.body.user.displayName).toBe(displayName);
    const group = await app.http().post('/api/v1/conversations').set(alice.auth).send({ type: 'group', title: 'فريق 🇵🇸 team', memberIds: [] });
    expect(group.status).toBe(201);
  });

  it('rejects malformed JSON, a non-JSON content type and an oversized body', async () => {
    const malformed = await app.http().post('/api/v1/messages').set(alice.auth).set('Content-Type', 'application/json').send('{"body": ');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });

    const text = await app.http().post('/api/v1/messages').set(alice.auth).set('Content-Type', 'text/plain').send('hello');
    expect(text.status).toBe(415);
    expect(text.body).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
    // An HTML form's encoding too: a form on another site could otherwise register or log in.
    for (const path of ['/api/v1/auth/login', '/api/v1/messages']) {
      const form = await app.http().post(path).set(alice.auth).type('form').send({ username: alice.username, password: 'x', conversationId: directId, body: 'hi' });
      expect(form.status).toBe(415);
      expect(form.body).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
    }

    const huge = await app.http().post('/api/v1/messages').set(alice.auth).send({ conversationId: directId, body: long(200_000) });
    expect(huge.status).toBe(413);
    expect(huge.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  it('refuses a multipart body on a call that takes none, or JSON, with 415', async () => {
    const doomed = await send(app, alice, groupId, 'not deleted by a form');
    const form = await app.http().delete(`/api/v1/messages/${doomed.id}`).set(alice.auth).attach('file', Buffer.from('x'), 'x.txt');
    expect(form.status).toBe(415);
    expect(form.body).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
    expect((await app.http().get(`/api/v1/messages/${doomed.id}`).set(alice.auth)).body.deletedAt).toBeNull();
    const json = await app.http().post('/api/v1/messages').set(alice.auth).field('conversationId', groupId).field('body', 'from a form');
    expect(json.status).toBe(400);
  });

  it('changed nothing while refusing all of the above', async () => {
    const history = await app.http().get(`/api/v1/conversations/${directId}/messages`).set(alice.auth);
    expect(history.body.items.map((m: { body: string }) => m.body)).toEqual(['hello']);
  });
});

describe('an empty body labelled JSON', () => {
  // As client wrappers send it that set the content type on every request.
  const emptyJson = (request: Test) => request.set(alice.auth).set('Content-Type', 'application/json');

  it('is no body: calls that take none succeed, and a call that needs one names what is missing', async () => {
    expect((await emptyJson(app.http().post('/api/v1/auth/ws-ticket'))).status).toBe(201);
    const doomed = await send(app, alice, groupId, 'to be deleted');
    expect((await emptyJson(app.http().delete(`/api/v1/messages/${doomed.id}`))).status).toBe(204);

    const noSend = await emptyJson(app.http().post('/api/v1/messages'));
    expect(noSend.status).toBe(400);
    expect(noSend.body.message).toEqual(['conversationId or recipientId is required', 'body must be 1–4000 characters after trimming']);
    const noRead = await emptyJson(app.http().post(`/api/v1/conversations/${groupId}/read`));
    expect(noRead.body).toEqual({ statusCode: 400, error: 'Bad Request', message: ['seq must be an integer number'] });
  });

  it('is still JSON: blank or malformed text, and prototype keys, are refused', async () => {
    for (const text of [' ', '{', '{"__proto__": {"x": 1}}', '{"constructor": {"prototype": {"x": 1}}}']) {
      const response = await emptyJson(app.http().post('/api/v1/messages')).send(text);
      expect(response.status, text).toBe(400);
      expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    }
  });
});
