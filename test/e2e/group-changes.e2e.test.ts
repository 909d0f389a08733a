import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { CatchUpClient } from '../support/catch-up-client.js';
import { newDirect, newGroup, newUser, send, type TestUser } from '../support/factories.js';
import { forMessage, TestSocket } from '../support/ws-client.js';

/**
 * Conversations beyond v1: `lastMessage`, renaming a group, and the system messages that record
 * membership and title changes in the history.
 */
let app: TestApp;
const sockets: TestSocket[] = [];

async function connect(user: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(app.wsUrl, { token: user.token });
  sockets.push(socket);
  return socket;
}

beforeAll(async () => {
  app = await startApp();
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await app.close();
});

const conversation = async (user: TestUser, id: string) => {
  const response = await app.http().get(`/api/v1/conversations/${id}`).set(user.auth);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
};

const newest = async (user: TestUser, id: string) => (await conversation(user, id)).lastMessage;

describe('lastMessage', () => {
  it('is null before the first message, then the newest message exactly as GET /messages/:id gives it', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const directId = await newDirect(app, alice, bob);
    expect(await conversation(alice, directId)).toMatchObject({ lastSeq: 0, lastMessageId: null, lastMessage: null });

    await send(app, alice, directId, 'first');
    const second = await send(app, bob, directId, 'second');
    const fetched = await app.http().get(`/api/v1/messages/${second.id}`).set(alice.auth);
    const seen = await conversation(alice, directId);
    expect(seen.lastMessageId).toBe(second.id);
    expect(seen.lastMessage).toEqual(fetched.body);
    expect(seen.lastMessage).toMatchObject({ body: 'second', kind: 'text', event: null, senderId: bob.id });

    // A deleted last message stays the last one, as its tombstone.
    await app.http().delete(`/api/v1/messages/${second.id}`).set(bob.auth);
    expect(await newest(alice, directId)).toMatchObject({ id: second.id, body: null, deletedAt: expect.any(String) });
  });

  it('comes with every conversation of a list page, in one statement whatever the page holds', async () => {
    const me = await newUser(app, 'me');
    const others = await Promise.all(Array.from({ length: 12 }, () => newUser(app)));
    const sent = new Map<string, string>();
    for (const other of others) {
      const id = await newDirect(app, me, other);
      sent.set(id, (await send(app, other, id, `hello from ${other.username}`)).id);
    }
    const dataSource = app.app.get(DataSource);
    const original = dataSource.query.bind(dataSource);
    const statements = async (limit: number) => {
      let count = 0;
      dataSource.query = ((...args: Parameters<DataSource['query']>) => {
        // Not the request's: the outbox's clearing runs every 100 ms in the background.
        if (!/fanout_outbox/.test(args[0])) count++;
        return original(...args);
      }) as DataSource['query'];
      try {
        const response = await app.http().get(`/api/v1/conversations?limit=${limit}`).set(me.auth);
        expect(response.status).toBe(200);
        for (const item of response.body.items) {
          expect(item.lastMessage).toMatchObject({ id: sent.get(item.id), conversationId: item.id, kind: 'text' });
        }
        return count;
      } finally {
        dataSource.query = original;
      }
    };
    expect(await statements(12)).toBe(await statements(1));
  });
});

describe('renaming a group', () => {
  it('the owner renames it: 200 conversation, a title.changed system message, members told', async () => {
    const [owner, member] = [await newUser(app, 'owner'), await newUser(app, 'member')];
    const groupId = await newGroup(app, owner, [member], 'before');
    await send(app, member, groupId, 'hi');
    const memberSocket = await connect(member);

    const renamed = await app.http().patch(`/api/v1/conversations/${groupId}`).set(owner.auth).send({ title: '  after  ' });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body).toMatchObject({ id: groupId, title: 'after', lastSeq: 2, lastReadSeq: 2, unreadCount: 0 });
    expect(renamed.body.lastMessage).toMatchObject({
      seq: 2,
      kind: 'system',
      body: null,
      senderId: owner.id,
      deletedAt: null,
      event: { type: 'title.changed', actorId: owner.id, title: 'after' },
    });
    const messageId = renamed.body.lastMessage.id;
    await memberSocket.next((f) => f.type === 'conversation.updated' && f.conversationId === groupId);
    expect(await memberSocket.next(forMessage(messageId, 'message.created'))).toEqual({
      type: 'message.created',
      id: messageId,
      conversationId: groupId,
      seq: 2,
      changeSeq: 2,
    });
    // A system message counts as unread, like any message.
    expect(await conversation(member, groupId)).toMatchObject({ title: 'after', lastSeq: 2, lastReadSeq: 1, unreadCount: 1 });

    // The same title again changes nothing and tells no one.
    const again = await app.http().patch(`/api/v1/conversations/${groupId}`).set(owner.auth).send({ title: 'after' });
    expect(again.status).toBe(200);
    expect(again.body.lastSeq).toBe(2);
    expect(await memberSocket.collect((f) => 'conversationId' in f && f.conversationId === groupId, 200)).toEqual([]);
  });

  it('refuses members who do not own it (403), outsiders (404) and direct conversations (400)', async () => {
    const [owner, member, outsider] = [await newUser(app, 'owner'), await newUser(app, 'member'), await newUser(app, 'outsider')];
    const groupId = await newGroup(app, owner, [member], 'kept');
    const directId = await newDirect(app, owner, member);
    const rename = (user: TestUser, id: string) => app.http().patch(`/api/v1/conversations/${id}`).set(user.auth).send({ title: 'taken over' });
    expect((await rename(member, groupId)).status).toBe(403);
    expect((await rename(outsider, groupId)).status).toBe(404);
    expect((await rename(outsider, groupId)).body).toEqual((await rename(outsider, '987654321')).body);
    expect((await rename(owner, directId)).status).toBe(400);
    expect(await conversation(owner, groupId)).toMatchObject({ title: 'kept', lastSeq: 0 });
    expect((await conversation(owner, directId)).title).toBeNull();
  });
});

describe('system messages', () => {
  it('record members added, removed and leaving, each with its own seq, in history and the changes feed', async () => {
    const [owner, bob, carol, dave] = [await newUser(app, 'owner'), await newUser(app, 'bob'), await newUser(app, 'carol'), await newUser(app, 'dave')];
    const groupId = await newGroup(app, owner, [bob], 'team');
    await send(app, bob, groupId, 'one');

    // Adding carol, dave and bob (already a member): only the two new ones are recorded.
    const added = await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [carol.id, dave.id, bob.id] });
    expect(added.status).toBe(200);
    const addedIds = [carol.id, dave.id].sort((a, b) => Number(a) - Number(b));
    expect(added.body.lastMessage).toMatchObject({ seq: 2, kind: 'system', event: { type: 'members.added', actorId: owner.id, userIds: addedIds } });
    // New members start with everything before as read; the message that added them is unread.
    expect(await conversation(carol, groupId)).toMatchObject({ lastSeq: 2, lastReadSeq: 1, unreadCount: 1 });
    // Adding only members it already has changes nothing.
    const unchanged = await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [carol.id] });
    expect(unchanged.body.lastSeq).toBe(2);

    expect((await app.http().delete(`/api/v1/conversations/${groupId}/members/${dave.id}`).set(owner.auth)).status).toBe(204);
    expect((await app.http().delete(`/api/v1/conversations/${groupId}/members/${carol.id}`).set(carol.auth)).status).toBe(204);
    // The owner leaving hands the group on, and is recorded as leaving.
    expect((await app.http().delete(`/api/v1/conversations/${groupId}/members/${owner.id}`).set(owner.auth)).status).toBe(204);

    const history = await app.http().get(`/api/v1/conversations/${groupId}/messages?after=0`).set(bob.auth);
    expect(history.body.items.map((m: { seq: number; kind: string; body: string | null; senderId: string; event: unknown }) => [m.seq, m.kind, m.body, m.senderId, m.event])).toEqual([
      [1, 'text', 'one', bob.id, null],
      [2, 'system', null, owner.id, { type: 'members.added', actorId: owner.id, userIds: addedIds }],
      [3, 'system', null, owner.id, { type: 'member.removed', actorId: owner.id, userIds: [dave.id] }],
      [4, 'system', null, carol.id, { type: 'member.left', actorId: carol.id }],
      [5, 'system', null, owner.id, { type: 'member.left', actorId: owner.id }],
    ]);
    const changes = await app.http().get(`/api/v1/conversations/${groupId}/changes?since=1`).set(bob.auth);
    expect(changes.body.items.map((m: { seq: number; changeSeq: number }) => [m.seq, m.changeSeq])).toEqual([[2, 2], [3, 3], [4, 4], [5, 5]]);
    expect(await conversation(bob, groupId)).toMatchObject({ ownerId: bob.id, lastSeq: 5, unreadCount: 4 });
  });

  it('reach the members like any message; a member removed hears only that the conversation changed', async () => {
    const [owner, bob, carol] = [await newUser(app, 'owner'), await newUser(app, 'bob'), await newUser(app, 'carol')];
    const groupId = await newGroup(app, owner, [bob], 'team');
    const [ownerSocket, bobSocket, carolSocket] = [await connect(owner), await connect(bob), await connect(carol)];

    await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [carol.id] });
    const addedFrames = await Promise.all([ownerSocket, bobSocket, carolSocket].map((socket) => socket.next((f) => f.type === 'message.created' && f.conversationId === groupId)));
    const addedId = (addedFrames[0] as { id: string }).id;
    expect(addedFrames.every((f) => 'id' in f && f.id === addedId)).toBe(true);
    // The new member may read it: it is a member now.
    expect((await app.http().get(`/api/v1/messages/${addedId}`).set(carol.auth)).body).toMatchObject({ kind: 'system', event: { type: 'members.added' } });

    await app.http().delete(`/api/v1/conversations/${groupId}/members/${carol.id}`).set(owner.auth);
    const removed = await bobSocket.next((f) => f.type === 'message.created' && f.conversationId === groupId);
    await ownerSocket.next(forMessage((removed as { id: string }).id, 'message.created'));
    await carolSocket.next((f) => f.type === 'conversation.updated' && f.conversationId === groupId);
    expect(await carolSocket.collect((f) => f.type === 'message.created' && f.conversationId === groupId, 200)).toEqual([]);
    expect((await app.http().get(`/api/v1/messages/${(removed as { id: string }).id}`).set(carol.auth)).status).toBe(404);
  });

  it('cannot be edited, deleted, reacted to or replied to, by the actor, another member or an admin (400)', async () => {
    const [owner, bob] = [await newUser(app, 'owner'), await newUser(app, 'bob')];
    const groupId = await newGroup(app, owner, [bob], 'before');
    const renamed = await app.http().patch(`/api/v1/conversations/${groupId}`).set(owner.auth).send({ title: 'after' });
    const systemId = renamed.body.lastMessage.id;
    const admin = await newUser(app, 'admin');
    await app.app.get(DataSource).query(`UPDATE users SET role = 'admin' WHERE id = $1`, [admin.id]);

    for (const user of [owner, bob]) {
      const edit = await app.http().patch(`/api/v1/messages/${systemId}`).set(user.auth).send({ body: 'rewritten' });
      expect(edit.status).toBe(400);
      expect(edit.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'System messages cannot be edited' });
      expect((await app.http().delete(`/api/v1/messages/${systemId}`).set(user.auth)).body.message).toBe('System messages cannot be deleted');
      const reaction = await app.http().put(`/api/v1/messages/${systemId}/reactions/${encodeURIComponent('👍')}`).set(user.auth);
      expect(reaction.status).toBe(400);
      expect(reaction.body.message).toBe('System messages cannot be reacted to');
      const reply = await app.http().post('/api/v1/messages').set(user.auth).send({ conversationId: groupId, body: 'a reply', replyToId: systemId });
      expect(reply.status).toBe(400);
      expect(reply.body.message).toBe('System messages cannot be replied to');
    }
    expect((await app.http().delete(`/api/v1/messages/${systemId}`).set({ Authorization: `Bearer ${admin.token}` })).status).toBe(400);
    expect((await app.http().delete(`/api/v1/admin/messages/${systemId}`).set({ Authorization: `Bearer ${admin.token}` })).status).toBe(400);
    expect(await newest(bob, groupId)).toMatchObject({
      id: systemId,
      event: { type: 'title.changed', title: 'after' },
      deletedAt: null,
      editedAt: null,
      reactions: [],
      replyCount: 0,
    });
  });

  it('take seqs with no gaps among concurrent sends and membership changes', async () => {
    const owner = await newUser(app, 'owner');
    const extra = await Promise.all(Array.from({ length: 6 }, () => newUser(app)));
    const groupId = await newGroup(app, owner, [], 'busy');
    await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => send(app, owner, groupId, `m${i}`)),
      ...extra.map((user) => app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [user.id] })),
      ...['a', 'b', 'c'].map((title) => app.http().patch(`/api/v1/conversations/${groupId}`).set(owner.auth).send({ title })),
    ]);
    const seen = await conversation(owner, groupId);
    const items: { seq: number; changeSeq: number; kind: string }[] = [];
    for (let after = 0; after < seen.lastSeq; after = items.length) {
      items.push(...(await app.http().get(`/api/v1/conversations/${groupId}/messages?after=${after}&limit=100`).set(owner.auth)).body.items);
    }
    expect(items.map((m) => m.seq)).toEqual(Array.from({ length: seen.lastSeq }, (_, i) => i + 1));
    expect(items.filter((m) => m.kind === 'text')).toHaveLength(30);
    expect(items.filter((m) => m.kind === 'system').length).toBeGreaterThanOrEqual(6 + 1);
    expect(new Set(items.map((m) => m.changeSeq)).size).toBe(items.length);
  });

  it('a client catching up through the changes feed gets every one of them', async () => {
    const [owner, bob, carol] = [await newUser(app, 'owner'), await newUser(app, 'bob'), await newUser(app, 'carol')];
    const groupId = await newGroup(app, owner, [bob], 'team');
    await send(app, owner, groupId, 'before');
    const client = new CatchUpClient(app, bob.token);
    await client.connect();
    await client.settled();
    client.disconnect();

    await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [carol.id] });
    await app.http().patch(`/api/v1/conversations/${groupId}`).set(owner.auth).send({ title: 'renamed' });
    await send(app, carol, groupId, 'after');

    await client.connect();
    await client.settled();
    expect(client.messages(groupId).map((m) => [m.seq, m.body])).toEqual([[1, 'before'], [2, null], [3, null], [4, 'after']]);
    client.disconnect();
  });
});
