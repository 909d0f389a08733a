import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../src/notifications/frames.js';
import { startApp, type TestApp } from '../support/app.js';
import { newGroup, newUser, send, type TestUser } from '../support/factories.js';
import { TestSocket } from '../support/ws-client.js';

/** Read receipts: who has read how far, what others may see of it, and the conversation.read frame. */
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

const receipts = async (user: TestUser, conversationId: string) => {
  const response = await app.http().get(`/api/v1/conversations/${conversationId}/receipts`).set(user.auth);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return Object.fromEntries(
    (response.body.items as { userId: string; lastReadSeq: number | null; readAt: string | null }[]).map((item) => [item.userId, item]),
  );
};

const markRead = async (user: TestUser, conversationId: string, seq: number) => {
  expect((await app.http().post(`/api/v1/conversations/${conversationId}/read`).set(user.auth).send({ seq })).status).toBe(204);
};

const share = async (user: TestUser, shareReadReceipts: boolean) => {
  expect((await app.http().patch('/api/v1/users/me').set(user.auth).send({ shareReadReceipts })).status).toBe(200);
};

const readFrames = (conversationId: string) => (frame: ServerFrame) => frame.type === 'conversation.read' && frame.conversationId === conversationId;

/** A group of three, owner first, with two messages from the owner. */
async function scene() {
  const [owner, bob, carol] = [await newUser(app, 'owner'), await newUser(app, 'bob'), await newUser(app, 'carol')];
  const groupId = await newGroup(app, owner, [bob, carol], 'receipts');
  await send(app, owner, groupId, 'one');
  await send(app, owner, groupId, 'two');
  return { owner, bob, carol, groupId };
}

describe('GET /conversations/:id/receipts', () => {
  it('lists every member with how far it has read and when its marker last moved', async () => {
    const { owner, bob, carol, groupId } = await scene();
    const before = await receipts(carol, groupId);
    expect(Object.keys(before).sort()).toEqual([owner.id, bob.id, carol.id].sort());
    // Sending marks the sender's own messages read, and stamps the time.
    expect(before[owner.id]).toEqual({ userId: owner.id, lastReadSeq: 2, readAt: expect.any(String) });
    expect(before[bob.id]).toEqual({ userId: bob.id, lastReadSeq: 0, readAt: null });

    const start = Date.now();
    await markRead(bob, groupId, 1);
    const after = await receipts(carol, groupId);
    expect(after[bob.id]).toMatchObject({ lastReadSeq: 1 });
    expect(Date.parse(after[bob.id].readAt!)).toBeGreaterThanOrEqual(start - 1000);
    // A marker that does not move keeps its time.
    await markRead(bob, groupId, 1);
    expect((await receipts(carol, groupId))[bob.id]).toEqual(after[bob.id]);
  });

  it('shows a member who does not share them as nulls to the others, but not to itself or an admin', async () => {
    const { owner, bob, carol, groupId } = await scene();
    await markRead(bob, groupId, 2);
    await share(bob, false);
    expect((await receipts(carol, groupId))[bob.id]).toEqual({ userId: bob.id, lastReadSeq: null, readAt: null });
    expect((await receipts(bob, groupId))[bob.id]).toMatchObject({ lastReadSeq: 2, readAt: expect.any(String) });
    await app.app.get(DataSource).query(`UPDATE users SET role = 'admin' WHERE id = $1`, [owner.id]);
    expect((await receipts(owner, groupId))[bob.id]).toMatchObject({ lastReadSeq: 2, readAt: expect.any(String) });
    await share(bob, true);
    expect((await receipts(carol, groupId))[bob.id]).toMatchObject({ lastReadSeq: 2 });
  });

  it('is a 404 for anyone but a member, as for a conversation that does not exist', async () => {
    const { groupId } = await scene();
    const outsider = await newUser(app, 'outsider');
    const real = await app.http().get(`/api/v1/conversations/${groupId}/receipts`).set(outsider.auth);
    const missing = await app.http().get('/api/v1/conversations/987654321/receipts').set(outsider.auth);
    expect(real.status).toBe(404);
    expect(real.body).toEqual(missing.body);
  });
});

describe('the conversation.read frame', () => {
  it('tells the other members whose marker moved where, each frame carrying the receiver’s own marker', async () => {
    const { owner, bob, carol, groupId } = await scene();
    await markRead(carol, groupId, 1);
    const [ownerSocket, bobSocket, bobOtherTab, carolSocket] = [await connect(owner), await connect(bob), await connect(bob), await connect(carol)];

    await markRead(bob, groupId, 2);
    // The reader's own sockets: seq and lastReadSeq are its marker.
    for (const socket of [bobSocket, bobOtherTab]) {
      expect(await socket.next(readFrames(groupId))).toEqual({ type: 'conversation.read', conversationId: groupId, userId: bob.id, seq: 2, lastReadSeq: 2 });
    }
    // Everyone else: bob's marker, and their own (which a client that predates receipts reads).
    expect(await ownerSocket.next(readFrames(groupId))).toEqual({ type: 'conversation.read', conversationId: groupId, userId: bob.id, seq: 2, lastReadSeq: 2 });
    expect(await carolSocket.next(readFrames(groupId))).toEqual({ type: 'conversation.read', conversationId: groupId, userId: bob.id, seq: 2, lastReadSeq: 1 });

    // A marker that did not move is news only to the reader's own sockets.
    await markRead(bob, groupId, 1);
    expect(await bobSocket.next(readFrames(groupId))).toMatchObject({ userId: bob.id, seq: 2, lastReadSeq: 2 });
    for (const socket of [ownerSocket, carolSocket]) expect(await socket.collect(readFrames(groupId), 200)).toEqual([]);
  });

  it('is not sent to the others for a member who does not share read receipts, except to admins', async () => {
    const { owner, bob, carol, groupId } = await scene();
    await share(bob, false);
    await app.app.get(DataSource).query(`UPDATE users SET role = 'admin' WHERE id = $1`, [owner.id]);
    const [ownerSocket, bobSocket, carolSocket] = [await connect(owner), await connect(bob), await connect(carol)];

    await markRead(bob, groupId, 2);
    expect(await bobSocket.next(readFrames(groupId))).toMatchObject({ userId: bob.id, seq: 2, lastReadSeq: 2 });
    expect(await ownerSocket.next(readFrames(groupId))).toMatchObject({ userId: bob.id, seq: 2 });
    expect(await carolSocket.collect(readFrames(groupId), 300)).toEqual([]);

    // Carol shares: bob hears of her.
    await markRead(carol, groupId, 2);
    expect(await bobSocket.next(readFrames(groupId))).toEqual({ type: 'conversation.read', conversationId: groupId, userId: carol.id, seq: 2, lastReadSeq: 2 });
  });
});
