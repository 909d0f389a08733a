import { createECDH } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { uploaded } from '../support/attachments.js';
import { newDirect, newGroup, newUser, send, uniqueName, type TestUser } from '../support/factories.js';
import { TestSocket } from '../support/ws-client.js';

let app: TestApp;
let owner: TestUser;
let member: TestUser;
let outsider: TestUser;
let groupId: string;
let directId: string;
let messageId: string;
let directMessageId: string;
/** An image attached to a message in the group, and an upload the owner has not attached. */
let attachmentId: string;
let unattachedId: string;
let outsiderMessageId: string;
/** A bot of the owner's, with a webhook. */
let botId: string;
/** A push subscription of the owner's. */
let subscriptionId: string;

beforeAll(async () => {
  app = await startApp();
  [owner, member, outsider] = [await newUser(app, 'owner'), await newUser(app, 'member'), await newUser(app, 'outsider')];
  groupId = await newGroup(app, owner, [member], 'private');
  directId = await newDirect(app, owner, member);
  messageId = (await send(app, owner, groupId, 'secret')).id;
  directMessageId = (await send(app, member, directId, 'also secret')).id;
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
    'base64',
  );
  attachmentId = (await uploaded(app, owner, png, 'secret.png')).id;
  const attached = await app.http().post('/api/v1/messages').set(owner.auth).send({ conversationId: groupId, attachmentIds: [attachmentId] });
  expect(attached.status).toBe(201);
  unattachedId = (await uploaded(app, owner, png, 'secret-draft.png')).id;
  // With a user of its own: the outsider shares no conversation with the owner or the member.
  const stranger = await newUser(app, 'stranger');
  outsiderMessageId = (await send(app, outsider, await newDirect(app, outsider, stranger), 'the outsider’s own words')).id;
  botId = (await app.http().post('/api/v1/bots').set(owner.auth).send({ username: uniqueName('bot') })).body.bot.id;
  expect((await app.http().put(`/api/v1/bots/${botId}/webhook`).set(owner.auth).send({ url: 'https://example.com/secret-hook' })).status).toBe(200);
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const keys = { p256dh: ecdh.getPublicKey('base64url'), auth: Buffer.alloc(16, 1).toString('base64url') };
  subscriptionId = (await app.http().post('/api/v1/push/subscriptions').set(owner.auth).send({ endpoint: 'https://push.example.com/secret-sub', keys })).body.id;
});

afterAll(async () => {
  await app.close();
});

type Route = [method: 'get' | 'post' | 'put' | 'patch' | 'delete', path: () => string, body?: object];
const thumbsUp = encodeURIComponent('👍');

/** Every route that takes a conversation, message, session, bot or subscription id, as a non-member (or not the owner) would call it. */
const routes: Route[] = [
  ['get', () => `/api/v1/conversations/${groupId}`],
  ['get', () => `/api/v1/conversations/${directId}`],
  ['get', () => `/api/v1/conversations/${groupId}/messages`],
  ['get', () => `/api/v1/conversations/${directId}/messages?after=0`],
  ['get', () => `/api/v1/conversations/${groupId}/changes?since=0`],
  ['post', () => `/api/v1/conversations/${groupId}/members`, { userIds: ['1'] }],
  ['delete', () => `/api/v1/conversations/${groupId}/members/${member.id}`],
  ['delete', () => `/api/v1/conversations/${groupId}/members/${outsider.id}`],
  ['post', () => `/api/v1/conversations/${groupId}/read`, { seq: 1 }],
  ['post', () => `/api/v1/conversations/${groupId}/typing`],
  ['post', () => `/api/v1/conversations/${directId}/typing`],
  ['patch', () => `/api/v1/conversations/${groupId}`, { title: 'mine now' }],
  ['get', () => `/api/v1/conversations/${groupId}/receipts`],
  ['get', () => `/api/v1/conversations/${directId}/receipts`],
  ['get', () => `/api/v1/search/messages?q=secret&conversationId=${groupId}`],
  ['get', () => `/api/v1/messages/${messageId}`],
  ['get', () => `/api/v1/messages/${directMessageId}`],
  ['patch', () => `/api/v1/messages/${messageId}`, { body: 'mine now' }],
  ['delete', () => `/api/v1/messages/${messageId}`],
  ['delete', () => `/api/v1/auth/sessions/${owner.sessionId}`],
  ['get', () => `/api/v1/attachments/${attachmentId}`],
  ['get', () => `/api/v1/attachments/${attachmentId}/content`],
  ['get', () => `/api/v1/attachments/${attachmentId}/thumbnail`],
  ['get', () => `/api/v1/attachments/${unattachedId}`],
  ['get', () => `/api/v1/attachments/${unattachedId}/content`],
  ['get', () => `/api/v1/attachments/${unattachedId}/thumbnail`],
  ['put', () => `/api/v1/messages/${messageId}/reactions/${thumbsUp}`],
  ['delete', () => `/api/v1/messages/${messageId}/reactions/${thumbsUp}`],
  ['get', () => `/api/v1/messages/${messageId}/reactions/${thumbsUp}`],
  ['get', () => `/api/v1/messages/${directMessageId}/thread`],
  ['put', () => `/api/v1/conversations/${groupId}/pins/${messageId}`],
  ['delete', () => `/api/v1/conversations/${groupId}/pins/${messageId}`],
  ['get', () => `/api/v1/conversations/${groupId}/pins`],
  ['post', () => `/api/v1/bots/${botId}/token`],
  ['put', () => `/api/v1/bots/${botId}/webhook`, { url: 'https://example.com/mine-now' }],
  ['delete', () => `/api/v1/bots/${botId}/webhook`],
  ['delete', () => `/api/v1/bots/${botId}`],
  ['delete', () => `/api/v1/push/subscriptions/${subscriptionId}`],
  ['patch', () => `/api/v1/conversations/${groupId}/settings`, { muted: true }],
];

describe('a user who is not a member', () => {
  it.each(routes.map((route) => [route[0].toUpperCase(), route[1].toString().replace(/^\(\) => /, ''), route] as const))(
    'gets 404 for %s %s',
    async (_method, _path, [method, path, body]) => {
      const request = app.http()[method](path()).set(outsider.auth);
      const response = body ? await request.send(body) : await request;
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
      expect(JSON.stringify(response.body)).not.toContain('secret');
    },
  );

  it('gets the same 404 for ids that exist and ids that do not', async () => {
    const real = await app.http().get(`/api/v1/conversations/${groupId}`).set(outsider.auth);
    const missing = await app.http().get('/api/v1/conversations/999999999').set(outsider.auth);
    expect(real.body).toEqual(missing.body);
  });

  it('cannot post into the conversation and changed nothing by trying', async () => {
    const response = await app.http().post('/api/v1/messages').set(outsider.auth).send({ conversationId: groupId, body: 'let me in' });
    expect(response.status).toBe(404);
    const seen = await app.http().get(`/api/v1/conversations/${groupId}`).set(owner.auth);
    expect(seen.body).toMatchObject({ lastSeq: 2, memberIds: [owner.id, member.id].sort((a, b) => Number(a) - Number(b)) });
    const message = await app.http().get(`/api/v1/messages/${messageId}`).set(owner.auth);
    expect(message.body).toMatchObject({ body: 'secret', deletedAt: null });
  });

  it('does not see the conversations in its list', async () => {
    const list = await app.http().get('/api/v1/conversations').set(outsider.auth);
    expect(list.body.items.map((c: { id: string }) => c.id)).not.toContain(groupId);
  });

  it('is never notified of the conversation', async () => {
    const socket = await TestSocket.connect(app.wsUrl, { token: outsider.token });
    const message = await send(app, owner, groupId, 'more secrets');
    await app.http().patch(`/api/v1/messages/${message.id}`).set(owner.auth).send({ body: 'edited' });
    await app.http().put(`/api/v1/messages/${message.id}/reactions/${thumbsUp}`).set(member.auth);
    await app.http().put(`/api/v1/conversations/${groupId}/pins/${message.id}`).set(member.auth);
    await app.http().post('/api/v1/messages').set(member.auth).send({ conversationId: groupId, body: 'a reply', replyToId: message.id });
    await app.http().delete(`/api/v1/messages/${message.id}`).set(owner.auth);
    await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [member.id] });
    await app.http().patch(`/api/v1/conversations/${groupId}`).set(owner.auth).send({ title: 'private, renamed' });
    await app.http().post(`/api/v1/conversations/${groupId}/read`).set(member.auth).send({ seq: 2 });
    const frames = await socket.collect((f) => 'conversationId' in f && f.conversationId === groupId, 300);
    expect(frames).toEqual([]);
    socket.close();
  });

  it('finds nothing of the conversation in a search', async () => {
    const search = await app.http().get('/api/v1/search/messages?q=secret').set(outsider.auth);
    expect(search.status).toBe(200);
    expect(search.body).toEqual({ items: [], nextCursor: null });
    const asMember = await app.http().get('/api/v1/search/messages?q=secret').set(member.auth);
    expect(asMember.body.items.map((hit: { message: { id: string } }) => hit.message.id)).toContain(messageId);
  });
});

describe('typing and presence, to a user who shares no conversation', () => {
  it('sends it no typing of the conversation and no presence of its members', async () => {
    const socket = await TestSocket.connect(app.wsUrl, { token: outsider.token });
    const ownerSocket = await TestSocket.connect(app.wsUrl, { token: owner.token });
    ownerSocket.send(JSON.stringify({ type: 'typing', conversationId: groupId }));
    const memberSocket = await TestSocket.connect(app.wsUrl, { token: member.token });
    memberSocket.close();
    expect(await socket.collect((f) => f.type === 'typing' || f.type === 'presence', 400)).toEqual([]);
    // Its own typing into the conversation reaches no member.
    socket.send(JSON.stringify({ type: 'typing', conversationId: groupId }));
    expect(await ownerSocket.collect((f) => f.type === 'typing' && f.userId === outsider.id, 300)).toEqual([]);
    socket.close();
    ownerSocket.close();
  });

  it('leaves its members out of GET /presence, exactly as users who do not exist', async () => {
    const response = await app.http().get('/api/v1/presence').query({ userIds: `${owner.id},${member.id},987654321` }).set(outsider.auth);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ items: [] });
    const theirs = await app.http().get('/api/v1/presence').query({ userIds: `${member.id},${outsider.id}` }).set(owner.auth);
    expect(theirs.body.items.map((item: { userId: string }) => item.userId)).toEqual([member.id]);
  });
});

describe('ownership inside a conversation', () => {
  it('only the owner adds members or renames; members and the title of a direct conversation are fixed', async () => {
    const added = await app.http().post(`/api/v1/conversations/${groupId}/members`).set(member.auth).send({ userIds: [outsider.id] });
    expect(added.status).toBe(403);
    const renamed = await app.http().patch(`/api/v1/conversations/${groupId}`).set(member.auth).send({ title: 'mine now' });
    expect(renamed.status).toBe(403);
    const titled = await app.http().patch(`/api/v1/conversations/${directId}`).set(owner.auth).send({ title: 'ours' });
    expect(titled.status).toBe(400);
    const direct = await app.http().post(`/api/v1/conversations/${directId}/members`).set(owner.auth).send({ userIds: [outsider.id] });
    expect(direct.status).toBe(400);
    const leaveDirect = await app.http().delete(`/api/v1/conversations/${directId}/members/${owner.id}`).set(owner.auth);
    expect(leaveDirect.status).toBe(400);
  });

  it('a member sees an attached file but not the uploader’s unattached one, and cannot attach another’s', async () => {
    expect((await app.http().get(`/api/v1/attachments/${attachmentId}`).set(member.auth)).status).toBe(200);
    expect((await app.http().get(`/api/v1/attachments/${unattachedId}`).set(member.auth)).status).toBe(404);
    const stolen = await app.http().post('/api/v1/messages').set(member.auth).send({ conversationId: groupId, attachmentIds: [unattachedId] });
    expect(stolen.status).toBe(400);
    const edit = await app.http().patch(`/api/v1/messages/${messageId}`).set(member.auth).send({ attachmentIds: [] });
    expect(edit.status).toBe(403);
  });

  it('only the sender edits; the sender or an admin deletes', async () => {
    expect((await app.http().patch(`/api/v1/messages/${messageId}`).set(member.auth).send({ body: 'x' })).status).toBe(403);
    expect((await app.http().delete(`/api/v1/messages/${messageId}`).set(member.auth)).status).toBe(403);
  });
});

describe('every id-taking route, with every kind of id a caller might try', () => {
  // Ids that name nothing the caller may see: another user's, gone, malformed, out of range.
  const foreignIds = () => ({
    "another user's": groupId,
    'a never-issued': '987654321',
    'a malformed': 'abc',
    'a negative': '-5',
    'a huge': '99999999999999999999999999',
    'an SQL-looking': "1 OR 1=1",
  });
  const templates: [string, (id: string) => string, object?][] = [
    ['GET conversation', (id) => `/api/v1/conversations/${id}`],
    ['GET history', (id) => `/api/v1/conversations/${id}/messages`],
    ['GET changes', (id) => `/api/v1/conversations/${id}/changes?since=0`],
    ['POST members', (id) => `/api/v1/conversations/${id}/members`, { userIds: ['1'] }],
    ['DELETE member', (id) => `/api/v1/conversations/${id}/members/1`],
    ['POST read', (id) => `/api/v1/conversations/${id}/read`, { seq: 1 }],
    ['POST typing', (id) => `/api/v1/conversations/${id}/typing`],
    ['GET pins', (id) => `/api/v1/conversations/${id}/pins`],
    ['PUT pin', (id) => `/api/v1/conversations/${id}/pins/${messageId}`],
    ['DELETE pin', (id) => `/api/v1/conversations/${id}/pins/${messageId}`],
    ['PATCH conversation', (id) => `/api/v1/conversations/${id}`, { title: 'x' }],
    ['GET receipts', (id) => `/api/v1/conversations/${id}/receipts`],
  ];

  it.each(templates)('%s answers 404 for each, never data', async (_name, path, body) => {
    for (const [kind, id] of Object.entries(foreignIds())) {
      const method = _name.split(' ')[0].toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
      const request = app.http()[method](path(encodeURIComponent(id))).set(outsider.auth);
      const response = body ? await request.send(body) : await request;
      expect(response.status, `${kind} id`).toBe(404);
      expect(Object.keys(response.body).sort()).toEqual(['error', 'message', 'statusCode']);
    }
  });

  it.each([
    ['GET reactors', 'get', (id: string) => `/api/v1/messages/${id}/reactions/${thumbsUp}`],
    ['PUT reaction', 'put', (id: string) => `/api/v1/messages/${id}/reactions/${thumbsUp}`],
    ['DELETE reaction', 'delete', (id: string) => `/api/v1/messages/${id}/reactions/${thumbsUp}`],
    ['GET thread', 'get', (id: string) => `/api/v1/messages/${id}/thread`],
    // A member of the group, naming a message that is not the group's.
    ['PUT pin of the group', 'put', (id: string) => `/api/v1/conversations/${groupId}/pins/${id}`],
    ['DELETE pin of the group', 'delete', (id: string) => `/api/v1/conversations/${groupId}/pins/${id}`],
  ] as const)('%s answers 404 for each message id, never data', async (name, method, path) => {
    const inGroup = name.includes('of the group');
    const ids = { ...foreignIds(), "another user's": inGroup ? outsiderMessageId : messageId };
    for (const [kind, id] of Object.entries(ids)) {
      const response = await app.http()[method](path(encodeURIComponent(id))).set(inGroup ? member.auth : outsider.auth);
      expect(response.status, `${kind} id`).toBe(404);
      expect(Object.keys(response.body).sort()).toEqual(['error', 'message', 'statusCode']);
      expect(JSON.stringify(response.body)).not.toContain('secret');
    }
  });

  it('refuses a reply to a message of another conversation (400) and to one the caller may not see (the same 400)', async () => {
    for (const replyToId of [directMessageId, outsiderMessageId, '987654321']) {
      const response = await app.http().post('/api/v1/messages').set(owner.auth).send({ conversationId: groupId, body: 'a reply', replyToId });
      expect(response.status, replyToId).toBe(400);
      expect(response.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'replyToId must be a message of the same conversation' });
    }
    // An outsider replying into the group is told the group does not exist, whatever it answers.
    const intruder = await app.http().post('/api/v1/messages').set(outsider.auth).send({ conversationId: groupId, body: 'hi', replyToId: messageId });
    expect(intruder.status).toBe(404);
  });

  it('treats a deleted message in the new routes: reply yes, react and pin no (409), thread and reactors as for any', async () => {
    const doomed = await send(app, owner, groupId, 'secret, soon deleted');
    expect((await app.http().put(`/api/v1/messages/${doomed.id}/reactions/${thumbsUp}`).set(member.auth)).status).toBe(204);
    expect((await app.http().delete(`/api/v1/messages/${doomed.id}`).set(owner.auth)).status).toBe(204);
    const reply = await app.http().post('/api/v1/messages').set(member.auth).send({ conversationId: groupId, body: 'what was it?', replyToId: doomed.id });
    expect(reply.status).toBe(201);
    expect((await app.http().put(`/api/v1/messages/${doomed.id}/reactions/${thumbsUp}`).set(member.auth)).status).toBe(409);
    expect((await app.http().put(`/api/v1/conversations/${groupId}/pins/${doomed.id}`).set(member.auth)).status).toBe(409);
    expect((await app.http().delete(`/api/v1/conversations/${groupId}/pins/${doomed.id}`).set(member.auth)).status).toBe(204);
    const thread = await app.http().get(`/api/v1/messages/${doomed.id}/thread`).set(member.auth);
    expect(thread.body.items.map((m: { id: string }) => m.id)).toEqual([reply.body.id]);
    expect((await app.http().get(`/api/v1/messages/${doomed.id}/reactions/${thumbsUp}`).set(member.auth)).body).toEqual({ items: [], nextCursor: null });
    // Outsiders still get 404 for all of it.
    for (const path of [`/api/v1/messages/${doomed.id}/thread`, `/api/v1/messages/${doomed.id}/reactions/${thumbsUp}`]) {
      expect((await app.http().get(path).set(outsider.auth)).status).toBe(404);
    }
  });

  it.each([
    ['GET', 'get'],
    ['PATCH', 'patch'],
    ['DELETE', 'delete'],
  ] as const)('%s message answers 404 for each, never data', async (_name, method) => {
    const ids = { ...foreignIds(), "another user's": messageId };
    for (const [kind, id] of Object.entries(ids)) {
      const request = app.http()[method](`/api/v1/messages/${encodeURIComponent(id)}`).set(outsider.auth);
      const response = method === 'patch' ? await request.send({ body: 'x' }) : await request;
      expect(response.status, `${kind} id`).toBe(404);
    }
  });

  it.each(['', '/content', '/thumbnail'])('GET attachment%s answers 404 for each, never data', async (route) => {
    const ids = { ...foreignIds(), "another user's": attachmentId, "another user's unattached": unattachedId };
    for (const [kind, id] of Object.entries(ids)) {
      const response = await app.http().get(`/api/v1/attachments/${encodeURIComponent(id)}${route}`).set(outsider.auth);
      expect(response.status, `${kind} id`).toBe(404);
      expect(Object.keys(response.body).sort()).toEqual(['error', 'message', 'statusCode']);
    }
  });

  it('treats a deleted message as a tombstone: members see it, nobody edits it, outsiders get 404', async () => {
    const doomed = await send(app, owner, groupId, 'to be deleted');
    expect((await app.http().delete(`/api/v1/messages/${doomed.id}`).set(owner.auth)).status).toBe(204);
    const seen = await app.http().get(`/api/v1/messages/${doomed.id}`).set(member.auth);
    expect(seen.status).toBe(200);
    expect(seen.body.body).toBeNull();
    expect((await app.http().patch(`/api/v1/messages/${doomed.id}`).set(owner.auth).send({ body: 'undead' })).status).toBe(409);
    expect((await app.http().get(`/api/v1/messages/${doomed.id}`).set(outsider.auth)).status).toBe(404);
  });

  it('searching in a conversation by id answers 404 for each kind of id but the caller\'s own', async () => {
    for (const [kind, id] of Object.entries(foreignIds())) {
      const response = await app.http().get('/api/v1/search/messages').query({ q: 'secret', conversationId: id }).set(outsider.auth);
      // Malformed ids are a query parameter's error (400); ids that name nothing visible, 404.
      expect([400, 404], `${kind} id`).toContain(response.status);
      expect(JSON.stringify(response.body)).not.toContain('secret');
    }
    const own = await app.http().get('/api/v1/search/messages').query({ q: 'secret', conversationId: groupId }).set(member.auth);
    expect(own.status).toBe(200);
  });

  it('stops showing a conversation to a member once removed', async () => {
    const [leaver] = [await newUser(app)];
    await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [leaver.id] });
    const message = await send(app, owner, groupId, 'while you were here');
    expect((await app.http().get(`/api/v1/messages/${message.id}`).set(leaver.auth)).status).toBe(200);
    await app.http().delete(`/api/v1/conversations/${groupId}/members/${leaver.id}`).set(leaver.auth);
    expect((await app.http().get(`/api/v1/messages/${message.id}`).set(leaver.auth)).status).toBe(404);
    expect((await app.http().get(`/api/v1/conversations/${groupId}/messages`).set(leaver.auth)).status).toBe(404);
    expect((await app.http().get(`/api/v1/conversations/${groupId}/receipts`).set(leaver.auth)).status).toBe(404);
    expect((await app.http().get('/api/v1/search/messages?q=while').set(leaver.auth)).body.items).toEqual([]);
  });
});
