import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newGroup, newUser, send, type TestUser } from '../support/factories.js';
import { forMessage, TestSocket } from '../support/ws-client.js';

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

describe('the notify-then-fetch loop', () => {
  it('A posts to B by recipientId; both are notified with the id only; B GETs the message', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const [aliceSocket, bobSocket] = [await connect(alice), await connect(bob)];

    const posted = await app
      .http()
      .post('/api/v1/messages')
      .set(alice.auth)
      .send({ recipientId: bob.id, body: '  hello bob  ' });
    expect(posted.status).toBe(201);
    expect(posted.body).toMatchObject({ seq: 1, senderId: alice.id, body: 'hello bob', deletedAt: null });

    for (const socket of [aliceSocket, bobSocket]) {
      const frame = await socket.next(forMessage(posted.body.id, 'message.created'));
      expect(frame).toEqual({
        type: 'message.created',
        id: posted.body.id,
        conversationId: posted.body.conversationId,
        seq: 1,
        changeSeq: 1,
      });
      // The direct conversation was created by this send, so both learn of it too.
      await socket.next((f) => f.type === 'conversation.updated' && f.conversationId === posted.body.conversationId);
    }

    const fetched = await app.http().get(`/api/v1/messages/${posted.body.id}`).set(bob.auth);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(posted.body);
  });

  it('notifies every connection of every group member, the sender’s other tabs included', async () => {
    const owner = await newUser(app, 'owner');
    const members = [await newUser(app), await newUser(app), await newUser(app)];
    const outsider = await newUser(app, 'outsider');
    const groupId = await newGroup(app, owner, members, 'team');

    const ownerTabs = [await connect(owner), await connect(owner)];
    const memberSockets = [await connect(members[0]), await connect(members[0]), await connect(members[1]), await connect(members[2])];
    const outsiderSocket = await connect(outsider);

    const message = await send(app, owner, groupId, 'hello team');
    for (const socket of [...ownerTabs, ...memberSockets]) {
      const frames = await socket.collect(forMessage(message.id), 300);
      expect(frames).toEqual([{ type: 'message.created', id: message.id, conversationId: groupId, seq: 1, changeSeq: 1 }]);
    }
    expect(await outsiderSocket.collect(forMessage(message.id), 100)).toEqual([]);
  });

  it('notifies a member whose addition committed while the send waited for the conversation lock', async () => {
    const [owner, member, late] = [await newUser(app), await newUser(app), await newUser(app)];
    const groupId = await newGroup(app, owner, [member]);
    const lateSocket = await connect(late);
    // Another transaction adds `late` and holds the conversation's row lock, as adding members does.
    const other = new pg.Client({ connectionString: app.config.databaseUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('UPDATE conversations SET updated_at = now() WHERE id = $1', [groupId]);
      await other.query('INSERT INTO conversation_members (conversation_id, user_id) VALUES ($1, $2)', [groupId, late.id]);
      const sending = send(app, owner, groupId, 'sent while the lock was held');
      // On PostgreSQL the send's statement has started by now and waits for the lock, with a
      // snapshot that predates the new member; the members it notifies must still include it.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await other.query('COMMIT');
      const message = await sending;
      await lateSocket.next(forMessage(message.id, 'message.created'));
    } finally {
      await other.end();
    }
  });

  it('fans out to members added later and stops for members removed', async () => {
    const [owner, early, late] = [await newUser(app), await newUser(app), await newUser(app)];
    const groupId = await newGroup(app, owner, [early]);
    const [earlySocket, lateSocket] = [await connect(early), await connect(late)];

    const added = await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [late.id] });
    expect(added.status).toBe(200);
    expect(added.body.memberIds).toEqual([owner.id, early.id, late.id].sort((a, b) => Number(a) - Number(b)));
    await lateSocket.next((f) => f.type === 'conversation.updated' && f.conversationId === groupId);
    await earlySocket.next((f) => f.type === 'conversation.updated' && f.conversationId === groupId);

    const first = await send(app, owner, groupId, 'welcome');
    await lateSocket.next(forMessage(first.id, 'message.created'));

    // Adding members it already has changes nothing: the same answer, no frame, no move up the list.
    const before = (await app.http().get(`/api/v1/conversations/${groupId}`).set(owner.auth)).body;
    const again = await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [late.id, early.id] });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(before);
    expect(await earlySocket.collect((f) => f.type === 'conversation.updated', 200)).toEqual([]);

    const removed = await app.http().delete(`/api/v1/conversations/${groupId}/members/${late.id}`).set(owner.auth);
    expect(removed.status).toBe(204);
    // The removed member hears of the change, then nothing more.
    await lateSocket.next((f) => f.type === 'conversation.updated' && f.conversationId === groupId);
    const second = await send(app, owner, groupId, 'after removal');
    await earlySocket.next(forMessage(second.id, 'message.created'));
    expect(await lateSocket.collect(forMessage(second.id), 200)).toEqual([]);
    expect((await app.http().get(`/api/v1/conversations/${groupId}`).set(late.auth)).status).toBe(404);

    // A member may leave by itself; only the owner may remove others.
    const forbidden = await app.http().delete(`/api/v1/conversations/${groupId}/members/${owner.id}`).set(early.auth);
    expect(forbidden.status).toBe(403);
    const addByMember = await app.http().post(`/api/v1/conversations/${groupId}/members`).set(early.auth).send({ userIds: [late.id] });
    expect(addByMember.status).toBe(403);
    expect((await app.http().delete(`/api/v1/conversations/${groupId}/members/${early.id}`).set(early.auth)).status).toBe(204);
  });

  it('hands a group to its longest-standing member when the owner leaves', async () => {
    const [owner, first, second] = [await newUser(app), await newUser(app), await newUser(app)];
    const groupId = await newGroup(app, owner, [first]);
    await app.http().post(`/api/v1/conversations/${groupId}/members`).set(owner.auth).send({ userIds: [second.id] });
    expect((await app.http().delete(`/api/v1/conversations/${groupId}/members/${owner.id}`).set(owner.auth)).status).toBe(204);
    const seen = await app.http().get(`/api/v1/conversations/${groupId}`).set(second.auth);
    expect(seen.body.memberIds).not.toContain(owner.id);
    const promoted = await app.http().delete(`/api/v1/conversations/${groupId}/members/${second.id}`).set(first.auth);
    expect(promoted.status).toBe(204);
  });
});

describe('conversations', () => {
  it('opens one direct conversation per pair: 201, then 200 with the same one from either side', async () => {
    const [a, b] = [await newUser(app), await newUser(app)];
    const created = await app.http().post('/api/v1/conversations').set(a.auth).send({ type: 'direct', userId: b.id });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ type: 'direct', title: null, lastSeq: 0, lastMessageId: null, unreadCount: 0 });
    expect(created.body.memberIds.sort()).toEqual([a.id, b.id].sort());
    const again = await app.http().post('/api/v1/conversations').set(b.auth).send({ type: 'direct', userId: a.id });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.body.id);
  });

  it('creates exactly one direct conversation when both sides open it at once', async () => {
    const [a, b] = [await newUser(app), await newUser(app)];
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        app.http().post('/api/v1/conversations').set((i % 2 ? a : b).auth).send({ type: 'direct', userId: (i % 2 ? b : a).id }),
      ),
    );
    expect(new Set(answers.map((r) => r.body.id)).size).toBe(1);
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
  });

  it('lists the most recently active first, with unread counts and read markers', async () => {
    const me = await newUser(app);
    const [x, y] = [await newUser(app), await newUser(app)];
    const withX = await newDirect(app, me, x);
    const withY = await newDirect(app, me, y);
    await send(app, x, withX, 'one');
    await send(app, x, withX, 'two');
    await send(app, y, withY, 'three');
    const mySocket = await connect(me);

    let list = await app.http().get('/api/v1/conversations').set(me.auth);
    expect(list.status).toBe(200);
    expect(list.body.items.map((c: { id: string }) => c.id)).toEqual([withY, withX]);
    expect(list.body.items[1]).toMatchObject({ lastSeq: 2, lastReadSeq: 0, unreadCount: 2 });

    expect((await app.http().post(`/api/v1/conversations/${withX}/read`).set(me.auth).send({ seq: 1 })).status).toBe(204);
    await mySocket.next((f) => f.type === 'conversation.read' && f.conversationId === withX && f.lastReadSeq === 1);
    // Read markers never move back and never pass the last message.
    await app.http().post(`/api/v1/conversations/${withX}/read`).set(me.auth).send({ seq: 0 });
    let conversation = await app.http().get(`/api/v1/conversations/${withX}`).set(me.auth);
    expect(conversation.body).toMatchObject({ lastReadSeq: 1, unreadCount: 1 });
    await app.http().post(`/api/v1/conversations/${withX}/read`).set(me.auth).send({ seq: 99 });
    conversation = await app.http().get(`/api/v1/conversations/${withX}`).set(me.auth);
    expect(conversation.body).toMatchObject({ lastReadSeq: 2, unreadCount: 0 });

    // Sending marks the sender's own message read, and moves the conversation to the top.
    await send(app, me, withX, 'reply');
    list = await app.http().get('/api/v1/conversations').set(me.auth);
    expect(list.body.items[0]).toMatchObject({ id: withX, lastSeq: 3, lastReadSeq: 3, unreadCount: 0 });
  });

  it('pages the conversation list with a cursor', async () => {
    const me = await newUser(app);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await newDirect(app, me, await newUser(app)));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: '2' };
      if (cursor) query.cursor = cursor;
      const page = await app.http().get('/api/v1/conversations').query(query).set(me.auth);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((c: { id: string }) => c.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });
});

describe('messages', () => {
  it('numbers concurrent posts into one conversation 1..N exactly, with no gaps', async () => {
    const owner = await newUser(app);
    const members = [await newUser(app), await newUser(app), await newUser(app)];
    const groupId = await newGroup(app, owner, members);
    const senders = [owner, ...members];
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        app.http().post('/api/v1/messages').set(senders[i % senders.length].auth).send({ conversationId: groupId, body: `m${i}` }),
      ),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect(results.map((r) => r.body.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));

    const history = await app.http().get(`/api/v1/conversations/${groupId}/messages`).query({ after: 0, limit: 100 }).set(owner.auth);
    expect(history.body.items.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    // Seq order is commit order: ids were assigned in the same locked statement.
    const ids = history.body.items.map((m: { id: string }) => BigInt(m.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
  });

  it('stores a retried clientMessageId once and answers 200 with the original', async () => {
    const [a, b] = [await newUser(app), await newUser(app)];
    const bobSocket = await connect(b);
    const body = { recipientId: b.id, body: 'once', clientMessageId: 'c-123' };
    const first = await app.http().post('/api/v1/messages').set(a.auth).send(body);
    expect(first.status).toBe(201);
    const retries = await Promise.all([1, 2, 3].map(() => app.http().post('/api/v1/messages').set(a.auth).send(body)));
    for (const retry of retries) {
      expect(retry.status).toBe(200);
      expect(retry.body).toEqual(first.body);
    }
    const history = await app.http().get(`/api/v1/conversations/${first.body.conversationId}/messages`).set(a.auth);
    expect(history.body.items).toHaveLength(1);
    expect(await bobSocket.collect((f) => f.type === 'message.created', 300)).toHaveLength(1);
    // The same clientMessageId from another sender is another message.
    const other = await app.http().post('/api/v1/messages').set(b.auth).send({ recipientId: a.id, body: 'mine', clientMessageId: 'c-123' });
    expect(other.status).toBe(201);
    expect(other.body.seq).toBe(2);
  });

  it('stores concurrent first attempts of one clientMessageId once, without a seq gap', async () => {
    const [a, b] = [await newUser(app), await newUser(app)];
    const conversationId = await newDirect(app, a, b);
    const body = { conversationId, body: 'racing', clientMessageId: 'race-1' };
    const answers = await Promise.all(Array.from({ length: 8 }, () => app.http().post('/api/v1/messages').set(a.auth).send(body)));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
    expect(answers.every((r) => r.status === 201 || r.status === 200)).toBe(true);
    expect(new Set(answers.map((r) => r.body.id)).size).toBe(1);
    expect((await send(app, a, conversationId, 'next')).seq).toBe(2);
  });

  it('pages history backwards with before, forwards with after, 15 by default', async () => {
    const [a, b] = [await newUser(app), await newUser(app)];
    const conversationId = await newDirect(app, a, b);
    for (let i = 1; i <= 40; i++) await send(app, i % 2 ? a : b, conversationId, `message ${i}`);
    const path = `/api/v1/conversations/${conversationId}/messages`;
    const seqs = (r: { body: { items: { seq: number }[] } }) => r.body.items.map((m) => m.seq);

    const newest = await app.http().get(path).set(b.auth);
    expect(newest.status).toBe(200);
    expect(seqs(newest)).toEqual([40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26]);
    expect(newest.body.hasMore).toBe(true);

    const older = await app.http().get(path).query({ before: 26, limit: 20 }).set(b.auth);
    expect(seqs(older)).toEqual(Array.from({ length: 20 }, (_, i) => 25 - i));
    expect(older.body.hasMore).toBe(true);
    const oldest = await app.http().get(path).query({ before: 6, limit: 20 }).set(b.auth);
    expect(seqs(oldest)).toEqual([5, 4, 3, 2, 1]);
    expect(oldest.body.hasMore).toBe(false);

    const forward = await app.http().get(path).query({ after: 35 }).set(b.auth);
    expect(seqs(forward)).toEqual([36, 37, 38, 39, 40]);
    expect(forward.body.hasMore).toBe(false);
    const between = await app.http().get(path).query({ after: 10, before: 14 }).set(b.auth);
    expect(seqs(between)).toEqual([11, 12, 13]);
    const everything = await app.http().get(path).query({ after: 0, limit: 100 }).set(b.auth);
    expect(seqs(everything)).toHaveLength(40);
  });

  it('edits and deletes: sender only, members notified, tombstone kept in history', async () => {
    const [a, b] = [await newUser(app), await newUser(app)];
    const conversationId = await newDirect(app, a, b);
    const message = await send(app, a, conversationId, 'first draft');
    const bobSocket = await connect(b);

    expect((await app.http().patch(`/api/v1/messages/${message.id}`).set(b.auth).send({ body: 'hijack' })).status).toBe(403);
    const edited = await app.http().patch(`/api/v1/messages/${message.id}`).set(a.auth).send({ body: 'final' });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ id: message.id, seq: 1, body: 'final' });
    expect(edited.body.editedAt).not.toBeNull();
    expect(await bobSocket.next(forMessage(message.id, 'message.updated'))).toMatchObject({ seq: 1, changeSeq: 2 });

    expect((await app.http().delete(`/api/v1/messages/${message.id}`).set(b.auth)).status).toBe(403);
    expect((await app.http().delete(`/api/v1/messages/${message.id}`).set(a.auth)).status).toBe(204);
    expect(await bobSocket.next(forMessage(message.id, 'message.deleted'))).toMatchObject({ seq: 1, changeSeq: 3 });
    const tombstone = await app.http().get(`/api/v1/messages/${message.id}`).set(b.auth);
    expect(tombstone.body).toMatchObject({ body: null, seq: 1 });
    expect(tombstone.body.deletedAt).not.toBeNull();

    // Deleting again changes nothing and notifies no one; a tombstone cannot be edited.
    expect((await app.http().delete(`/api/v1/messages/${message.id}`).set(a.auth)).status).toBe(204);
    expect(await bobSocket.collect(forMessage(message.id), 200)).toEqual([]);
    expect((await app.http().patch(`/api/v1/messages/${message.id}`).set(a.auth).send({ body: 'back' })).status).toBe(409);
    const history = await app.http().get(`/api/v1/conversations/${conversationId}/messages`).set(a.auth);
    expect(history.body.items).toEqual([tombstone.body]);
  });
  it('counts a body in characters, an emoji as one, the same when sending and editing', async () => {
    const [a, b] = [await newUser(app), await newUser(app)];
    const conversationId = await newDirect(app, a, b);
    // 4000 characters, 8000 UTF-16 code units.
    const longest = '😀'.repeat(4000);
    const sent = await app.http().post('/api/v1/messages').set(a.auth).send({ conversationId, body: longest, clientMessageId: '😀'.repeat(100) });
    expect(sent.status).toBe(201);
    expect(sent.body.body).toBe(longest);
    expect((await app.http().get(`/api/v1/messages/${sent.body.id}`).set(b.auth)).body.body).toBe(longest);
    const edited = await app.http().patch(`/api/v1/messages/${sent.body.id}`).set(a.auth).send({ body: `${longest.slice(2)}❤️` });
    expect(edited.status).toBe(200);

    for (const refused of [
      app.http().post('/api/v1/messages').set(a.auth).send({ conversationId, body: `${longest}😀` }),
      app.http().patch(`/api/v1/messages/${sent.body.id}`).set(a.auth).send({ body: `${longest}😀` }),
    ]) {
      const answer = await refused;
      expect(answer.status).toBe(400);
      expect(answer.body.message).toEqual(['body must be 1–4000 characters after trimming']);
    }
  });
});

describe('catching up after being offline', () => {
  it('recovers every new message by seq and every edit and delete through the changes feed', async () => {
    const [a, b] = [await newUser(app), await newUser(app)];
    const conversationId = await newDirect(app, a, b);
    const seen = [await send(app, a, conversationId, 'one'), await send(app, a, conversationId, 'two')];
    // B has seen seq 2 and change 2, then goes offline.
    let conversation = (await app.http().get(`/api/v1/conversations/${conversationId}`).set(b.auth)).body;
    const known = { lastSeq: conversation.lastSeq, lastChangeSeq: conversation.lastChangeSeq };
    expect(known).toEqual({ lastSeq: 2, lastChangeSeq: 2 });

    await app.http().patch(`/api/v1/messages/${seen[0].id}`).set(a.auth).send({ body: 'one (edited)' });
    await app.http().delete(`/api/v1/messages/${seen[1].id}`).set(a.auth);
    const missed = [await send(app, a, conversationId, 'three'), await send(app, a, conversationId, 'four')];

    // Back online: the conversation list says what moved.
    conversation = (await app.http().get('/api/v1/conversations').set(b.auth)).body.items.find(
      (c: { id: string }) => c.id === conversationId,
    );
    expect(conversation).toMatchObject({ lastSeq: 4, lastChangeSeq: 6 });
    const newMessages = await app
      .http()
      .get(`/api/v1/conversations/${conversationId}/messages`)
      .query({ after: known.lastSeq })
      .set(b.auth);
    expect(newMessages.body.items.map((m: { id: string }) => m.id)).toEqual(missed.map((m) => m.id));

    const changes = await app
      .http()
      .get(`/api/v1/conversations/${conversationId}/changes`)
      .query({ since: known.lastChangeSeq })
      .set(b.auth);
    expect(changes.status).toBe(200);
    expect(changes.body.items.map((m: { id: string; body: string | null }) => [m.id, m.body])).toEqual([
      [seen[0].id, 'one (edited)'],
      [seen[1].id, null],
      [missed[0].id, 'three'],
      [missed[1].id, 'four'],
    ]);
    expect(changes.body).toMatchObject({ hasMore: false, lastChangeSeq: 6 });
  });
});
