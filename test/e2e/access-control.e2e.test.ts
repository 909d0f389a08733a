import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newGroup, newUser, send, type TestUser } from '../support/factories.js';
import { TestSocket } from '../support/ws-client.js';

let app: TestApp;
let owner: TestUser;
let member: TestUser;
let outsider: TestUser;
let groupId: string;
let directId: string;
let messageId: string;
let directMessageId: string;

beforeAll(async () => {
  app = await startApp();
  [owner, member, outsider] = [await newUser(app, 'owner'), await newUser(app, 'member'), await newUser(app, 'outsider')];
  groupId = await newGroup(app, owner, [member], 'private');
  directId = await newDirect(app, owner, member);
  messageId = (await send(app, owner, groupId, 'secret')).id;
  directMessageId = (await send(app, member, directId, 'also secret')).id;
});

afterAll(async () => {
  await app.close();
});

type Route = [method: 'get' | 'post' | 'patch' | 'delete', path: () => string, body?: object];

/** Every route that takes a conversation or message id, as a non-member would call it. */
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
  ['get', () => `/api/v1/messages/${messageId}`],
  ['get', () => `/api/v1/messages/${directMessageId}`],
  ['patch', () => `/api/v1/messages/${messageId}`, { body: 'mine now' }],
  ['delete', () => `/api/v1/messages/${messageId}`],
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
    expect(seen.body).toMatchObject({ lastSeq: 1, memberIds: [owner.id, member.id].sort((a, b) => Number(a) - Number(b)) });
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
    await app.http().delete(`/api/v1/messages/${message.id}`).set(owner.auth);
    await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [member.id] });
    const frames = await socket.collect((f) => 'conversationId' in f && f.conversationId === groupId, 300);
    expect(frames).toEqual([]);
    socket.close();
  });
});

describe('ownership inside a conversation', () => {
  it('only the owner adds members; members of a direct conversation are fixed', async () => {
    const added = await app.http().post(`/api/v1/conversations/${groupId}/members`).set(member.auth).send({ userIds: [outsider.id] });
    expect(added.status).toBe(403);
    const direct = await app.http().post(`/api/v1/conversations/${directId}/members`).set(owner.auth).send({ userIds: [outsider.id] });
    expect(direct.status).toBe(400);
    const leaveDirect = await app.http().delete(`/api/v1/conversations/${directId}/members/${owner.id}`).set(owner.auth);
    expect(leaveDirect.status).toBe(400);
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
  ];

  it.each(templates)('%s answers 404 for each, never data', async (_name, path, body) => {
    for (const [kind, id] of Object.entries(foreignIds())) {
      const method = _name.split(' ')[0].toLowerCase() as 'get' | 'post' | 'delete';
      const request = app.http()[method](path(encodeURIComponent(id))).set(outsider.auth);
      const response = body ? await request.send(body) : await request;
      expect(response.status, `${kind} id`).toBe(404);
      expect(Object.keys(response.body).sort()).toEqual(['error', 'message', 'statusCode']);
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

  it('treats a deleted message as a tombstone: members see it, nobody edits it, outsiders get 404', async () => {
    const doomed = await send(app, owner, groupId, 'to be deleted');
    expect((await app.http().delete(`/api/v1/messages/${doomed.id}`).set(owner.auth)).status).toBe(204);
    const seen = await app.http().get(`/api/v1/messages/${doomed.id}`).set(member.auth);
    expect(seen.status).toBe(200);
    expect(seen.body.body).toBeNull();
    expect((await app.http().patch(`/api/v1/messages/${doomed.id}`).set(owner.auth).send({ body: 'undead' })).status).toBe(409);
    expect((await app.http().get(`/api/v1/messages/${doomed.id}`).set(outsider.auth)).status).toBe(404);
  });

  it('stops showing a conversation to a member once removed', async () => {
    const [leaver] = [await newUser(app)];
    await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [leaver.id] });
    const message = await send(app, owner, groupId, 'while you were here');
    expect((await app.http().get(`/api/v1/messages/${message.id}`).set(leaver.auth)).status).toBe(200);
    await app.http().delete(`/api/v1/conversations/${groupId}/members/${leaver.id}`).set(leaver.auth);
    expect((await app.http().get(`/api/v1/messages/${message.id}`).set(leaver.auth)).status).toBe(404);
    expect((await app.http().get(`/api/v1/conversations/${groupId}/messages`).set(leaver.auth)).status).toBe(404);
  });
});
