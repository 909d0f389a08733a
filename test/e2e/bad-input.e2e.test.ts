import type { Test } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newScene, send, type TestUser } from '../support/factories.js';

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

// Bodies that name fixtures are thunks: the fixtures exist only once beforeAll has run.
type Case = [name: string, method: 'get' | 'post' | 'patch' | 'delete', path: () => string, body: unknown, status: number];

const long = (n: number) => 'x'.repeat(n);
const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });
const cursorOf = (key: string[]) => Buffer.from(JSON.stringify(key)).toString('base64url');

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
  // Users
  ['users: limit 0', 'get', () => '/api/v1/users?limit=0', undefined, 400],
  ['users: limit 101', 'get', () => '/api/v1/users?limit=101', undefined, 400],
  ['users: bad cursor', 'get', () => '/api/v1/users?cursor=@@@', undefined, 400],
  // Found by probing: these reached PostgreSQL and failed there (500).
  ['users: cursor holding NUL', 'get', () => `/api/v1/users?cursor=${cursorOf(['\u0000'])}`, undefined, 400],
  ['users: unknown parameter', 'get', () => '/api/v1/users?sort=name', undefined, 400],
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
  ['delete message: with a body', 'delete', () => `/api/v1/messages/${messageId}`, { force: true }, 400],
  ['remove member: with a body', 'delete', () => `/api/v1/conversations/${groupId}/members/${bob.id}`, { reason: 'x' }, 400],
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
  ['unknown route', 'get', () => '/api/v1/nothing-here', undefined, 404],
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
  ] as const)('%s %s %j is told: %s', async (method, path, body, message) => {
    const request = app.http()[method](path).set(alice.auth);
    const response = body === undefined ? await request : await request.send(body);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ statusCode: 400, error: 'Bad Request', message: [message] });
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
