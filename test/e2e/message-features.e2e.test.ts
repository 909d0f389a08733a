import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MessageView } from '../../src/messages/message.view.js';
import type { MessageFrame } from '../../src/notifications/frames.js';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newGroup, newUser, send, type TestUser } from '../support/factories.js';
import { forMessage, TestSocket } from '../support/ws-client.js';

/**
 * API-next section B on the server: reactions, replies and threads, pins and mentions, each a
 * change of its message that moves its change seq and reaches the members as message.updated.
 */
let app: TestApp;
let db: pg.Client;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  app = await startApp();
  db = new pg.Client({ connectionString: inject('databaseUrl') });
  await db.connect();
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await db?.end();
  await app?.close();
});

async function connect(user: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(app.wsUrl, { token: user.token });
  sockets.push(socket);
  return socket;
}

const users = (n: number, prefix = 'u') => Promise.all(Array.from({ length: n }, () => newUser(app, prefix)));
const reaction = (messageId: string, emoji: string) => `/api/v1/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`;
const react = (user: TestUser, messageId: string, emoji: string) => app.http().put(reaction(messageId, emoji)).set(user.auth);
const unreact = (user: TestUser, messageId: string, emoji: string) => app.http().delete(reaction(messageId, emoji)).set(user.auth);
async function read(user: TestUser, messageId: string): Promise<MessageView> {
  const response = await app.http().get(`/api/v1/messages/${messageId}`).set(user.auth);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
}
async function conversation(user: TestUser, conversationId: string) {
  const response = await app.http().get(`/api/v1/conversations/${conversationId}`).set(user.auth);
  expect(response.status).toBe(200);
  return response.body as { lastChangeSeq: number; lastSeq: number; unreadCount: number; mentionCount: number };
}
async function reply(user: TestUser, conversationId: string, replyToId: string, body = 'a reply') {
  return app.http().post('/api/v1/messages').set(user.auth).send({ conversationId, body, replyToId });
}

/** The counts each message's row keeps, against the reaction rows themselves. */
async function reactionCountsDrift(): Promise<unknown[]> {
  const { rows } = await db.query(`
    WITH kept AS (
      SELECT m.id, e.x ->> 0 AS emoji, (e.x ->> 1)::int AS count
        FROM messages m CROSS JOIN LATERAL jsonb_array_elements(m.reactions) AS e (x)
    ), truth AS (
      SELECT message_id AS id, emoji, count(*)::int AS count FROM message_reactions GROUP BY 1, 2
    )
    SELECT * FROM kept FULL JOIN truth USING (id, emoji) WHERE kept.count IS DISTINCT FROM truth.count`);
  return rows;
}

/** Mention rows that do not match the members each message names (there should be none). */
async function mentionsOutOfStep(): Promise<unknown[]> {
  const { rows } = await db.query(`
    WITH named AS (
      SELECT u.user_id, m.conversation_id, m.seq FROM messages m CROSS JOIN LATERAL unnest(m.mentioned_user_ids) AS u (user_id)
    )
    SELECT * FROM (SELECT * FROM named EXCEPT SELECT * FROM message_mentions) missing
    UNION ALL
    SELECT * FROM (SELECT * FROM message_mentions EXCEPT SELECT * FROM named) extra`);
  return rows;
}

/** Each member's unread mentions as the messages themselves say, by conversation. */
async function unreadMentions(conversationId: string): Promise<Map<string, number>> {
  const { rows } = await db.query(
    `SELECT cm.user_id::text AS "userId",
            (SELECT count(*)::int FROM messages m
              WHERE m.conversation_id = cm.conversation_id AND m.seq > cm.last_read_seq AND cm.user_id = ANY (m.mentioned_user_ids)) AS unread
       FROM conversation_members cm WHERE cm.conversation_id = $1`,
    [conversationId],
  );
  return new Map(rows.map((row) => [row.userId, row.unread]));
}

describe('reactions', () => {
  it('adds and removes a reaction idempotently, shows counts and `reacted` per caller, and announces each change once', async () => {
    const [alice, bob, outsider] = await users(3);
    const conversationId = await newDirect(app, alice, bob);
    const message = await send(app, alice, conversationId, 'react to me');
    const [aliceSocket, outsiderSocket] = [await connect(alice), await connect(outsider)];

    expect((await react(bob, message.id, '👍')).status).toBe(204);
    const frame = await aliceSocket.next<MessageFrame>(forMessage(message.id, 'message.updated'));
    expect(frame).toEqual({ type: 'message.updated', id: message.id, conversationId, seq: message.seq, changeSeq: message.changeSeq + 1 });
    expect((await read(bob, message.id)).reactions).toEqual([{ emoji: '👍', count: 1, reacted: true }]);
    const seenByAlice = await read(alice, message.id);
    expect(seenByAlice).toMatchObject({ changeSeq: message.changeSeq + 1, reactions: [{ emoji: '👍', count: 1, reacted: false }] });

    // Again: nothing changes, nobody is told.
    const answer = await react(bob, message.id, '👍');
    expect(answer.status).toBe(204);
    expect(answer.text).toBe('');
    expect((await read(alice, message.id)).changeSeq).toBe(message.changeSeq + 1);

    expect((await react(alice, message.id, '👍')).status).toBe(204);
    expect((await react(alice, message.id, '🎉')).status).toBe(204);
    expect((await read(alice, message.id)).reactions).toEqual([
      { emoji: '👍', count: 2, reacted: true },
      { emoji: '🎉', count: 1, reacted: true },
    ]);
    expect((await unreact(bob, message.id, '👍')).status).toBe(204);
    expect((await unreact(bob, message.id, '👍')).status).toBe(204);
    expect((await unreact(bob, message.id, '🎉')).status).toBe(204);
    const after = await read(bob, message.id);
    expect(after.reactions).toEqual([
      { emoji: '👍', count: 1, reacted: false },
      { emoji: '🎉', count: 1, reacted: false },
    ]);
    // Four changes after the first: Alice's 👍 and 🎉, Bob's 👍 taken back; the repeats and the 🎉 Bob never had changed nothing.
    expect(after.changeSeq).toBe(message.changeSeq + 4);
    const frames = await aliceSocket.collect((f) => f.type === 'message.updated', 300);
    expect(frames.map((f) => (f as MessageFrame).changeSeq)).toEqual([message.changeSeq + 2, message.changeSeq + 3, message.changeSeq + 4]);
    expect(await outsiderSocket.collect((f) => 'conversationId' in f && f.conversationId === conversationId, 100)).toEqual([]);

    // The changes feed carries the latest version, at its change seq.
    const changes = await app.http().get(`/api/v1/conversations/${conversationId}/changes`).query({ since: message.changeSeq }).set(alice.auth);
    expect(changes.body.items).toEqual([await read(alice, message.id)]);
    expect(await reactionCountsDrift()).toEqual([]);
  });

  it.each([
    ['a thumbs up', '👍', 204],
    ['a ZWJ family', '👨‍👩‍👧‍👦', 204],
    ['a flag', '🇺🇦', 204],
    ['a subdivision flag (tag sequence)', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', 204],
    ['a skin tone modifier', '👍🏽', 204],
    ['a ZWJ sequence with skin tones', '🧑🏽‍🤝‍🧑🏿', 204],
    ['a keycap', '1️⃣', 204],
    ['a heart without its presentation selector', '❤', 204],
    ['two emoji', '👍👍', 400],
    ['an emoji and a letter', '👍a', 400],
    ['text', 'ok', 400],
    ['a letter', 'a', 400],
    ['a bare digit', '1', 400],
    ['a digit with the presentation selector', '1\uFE0F', 400],
    ['a lone regional indicator', '🇺', 400],
    ['a space', ' ', 400],
    ['a zero-width joiner alone', '\u200D', 400],
    ['an emoji with a space', '👍 ', 400],
    ['a kiss with two skin tones', '👩🏻\u200D❤️\u200D💋\u200D👨🏼', 204],
    ['a run of joined emoji that is no emoji', '👍\u200D'.repeat(7) + '👍', 400],
  ])('judges %s (%s): %i', async (_name, emoji, status) => {
    const [alice, bob] = await users(2);
    const message = await send(app, alice, await newDirect(app, alice, bob), 'emoji');
    const answer = await react(bob, message.id, emoji);
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    if (status === 400) {
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'emoji must be exactly one emoji (one grapheme cluster, URL-encoded)' });
      expect((await unreact(bob, message.id, emoji)).status).toBe(400);
      expect((await app.http().get(reaction(message.id, emoji)).set(bob.auth)).status).toBe(400);
    } else {
      expect((await read(bob, message.id)).reactions).toHaveLength(1);
    }
  });

  it('counts an emoji typed with or without its presentation selector as one reaction', async () => {
    const [alice, bob] = await users(2);
    const message = await send(app, alice, await newDirect(app, alice, bob), 'love');
    expect((await react(alice, message.id, '❤')).status).toBe(204);
    expect((await react(bob, message.id, '❤️')).status).toBe(204);
    expect((await react(bob, message.id, '😀\uFE0F')).status).toBe(204);
    expect((await read(alice, message.id)).reactions).toEqual([
      { emoji: '❤️', count: 2, reacted: true },
      { emoji: '😀', count: 1, reacted: false },
    ]);
    expect((await unreact(alice, message.id, '❤️')).status).toBe(204);
    expect((await read(alice, message.id)).reactions[0]).toEqual({ emoji: '❤️', count: 1, reacted: false });
  });

  it('takes at most 20 different emoji on a message (409 past that), any number of people on each', async () => {
    const [alice, bob] = await users(2);
    const message = await send(app, alice, await newDirect(app, alice, bob), 'many');
    const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙🥲😚🙂🤗🤩'];
    for (const e of emoji.slice(0, 20)) expect((await react(alice, message.id, e)).status).toBe(204);
    const refused = await react(bob, message.id, emoji[20]);
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({ statusCode: 409, error: 'Conflict', message: 'A message carries at most 20 different emoji' });
    // One already there takes another person; one taken off frees its place.
    expect((await react(bob, message.id, emoji[0])).status).toBe(204);
    expect((await unreact(alice, message.id, emoji[5])).status).toBe(204);
    expect((await react(bob, message.id, emoji[21])).status).toBe(204);
    const reactions = (await read(alice, message.id)).reactions;
    expect(reactions).toHaveLength(20);
    expect(reactions[0]).toEqual({ emoji: emoji[0], count: 2, reacted: true });
    expect(reactions.at(-1)).toEqual({ emoji: emoji[21], count: 1, reacted: false });
  });

  it('keeps exact counts when 50 people toggle reactions on one message at once', { timeout: 60_000 }, async () => {
    const [owner, ...members] = await users(51, 'crowd');
    const groupId = await newGroup(app, owner, members, 'crowd');
    const message = await send(app, owner, groupId, 'hot');
    const ownerSocket = await connect(owner);
    const before = await conversation(owner, groupId);
    // Each of the 50: 👍 on, 🎉 on and off again, and every third also ❤️ on, all at once and
    // in no order; then the same again, which must change nothing.
    const round = () =>
      Promise.all(
        members.flatMap((member, i) => [
          react(member, message.id, '👍'),
          react(member, message.id, '🎉').then(() => unreact(member, message.id, '🎉')),
          ...(i % 3 === 0 ? [react(member, message.id, '❤️')] : []),
        ]),
      );
    const answers = (await round()).concat(await round());
    expect(answers.filter((answer) => answer.status !== 204).map((answer) => [answer.status, answer.body])).toEqual([]);
    const hearts = members.filter((_, i) => i % 3 === 0).length;
    const seen = await read(members[0], message.id);
    expect(seen.reactions).toEqual(expect.arrayContaining([{ emoji: '👍', count: 50, reacted: true }, { emoji: '❤️', count: hearts, reacted: true }]));
    expect(seen.reactions.map((r) => r.emoji).sort()).toEqual(['❤️', '👍'].sort());
    const { rows } = await db.query('SELECT emoji, count(*)::int AS n FROM message_reactions WHERE message_id = $1 GROUP BY emoji ORDER BY emoji', [message.id]);
    expect(rows).toEqual([{ emoji: '❤️', n: hearts }, { emoji: '👍', n: 50 }].sort((a, b) => (a.emoji < b.emoji ? -1 : 1)));
    expect(await reactionCountsDrift()).toEqual([]);
    // Every change moved the counter, none twice: the feed has no gap and the frames no repeat.
    const after = await conversation(owner, groupId);
    expect(seen.changeSeq).toBe(after.lastChangeSeq);
    expect(after.lastChangeSeq).toBeGreaterThan(before.lastChangeSeq);
    const frames = (await ownerSocket.collect((f) => f.type === 'message.updated' && f.id === message.id, 500)) as MessageFrame[];
    const changeSeqs = frames.map((f) => f.changeSeq);
    expect(new Set(changeSeqs).size).toBe(changeSeqs.length);
    expect(Math.max(...changeSeqs)).toBe(after.lastChangeSeq);
    expect(changeSeqs.length).toBe(after.lastChangeSeq - before.lastChangeSeq);
  });

  it('lists who reacted, in the order they did, a page at a time', async () => {
    const [owner, ...members] = await users(5);
    const groupId = await newGroup(app, owner, members);
    const message = await send(app, owner, groupId, 'who?');
    for (const member of members) expect((await react(member, message.id, '👀')).status).toBe(204);
    expect((await react(owner, message.id, '👍')).status).toBe(204);
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await app.http().get(reaction(message.id, '👀')).query({ limit: 2, ...(cursor ? { cursor } : {}) }).set(owner.auth);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      for (const user of page.body.items) expect(Object.keys(user).sort()).toEqual(['createdAt', 'displayName', 'id', 'username']);
      listed.push(...page.body.items.map((user: { id: string }) => user.id));
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    expect(listed).toEqual(members.map((member) => member.id));
    const none = await app.http().get(reaction(message.id, '🙃')).set(owner.auth);
    expect(none.body).toEqual({ items: [], nextCursor: null });
  });

  it('answers 401 to a toggle whose session has ended, as the guard would, changing nothing', async () => {
    const [alice, bob] = await users(2);
    const message = await send(app, alice, await newDirect(app, alice, bob), 'after logout');
    expect((await react(bob, message.id, '👍')).status).toBe(204);
    expect((await app.http().post('/api/v1/auth/logout').set(bob.auth)).status).toBe(204);
    for (const answer of [await react(bob, message.id, '🎉'), await unreact(bob, message.id, '👍')]) {
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    }
    expect((await read(alice, message.id)).reactions).toEqual([{ emoji: '👍', count: 1, reacted: false }]);
  });

  it('refuses reactions to a deleted message (409), takes them back idempotently, and leaves the tombstone without any', async () => {
    const [alice, bob] = await users(2);
    const message = await send(app, alice, await newDirect(app, alice, bob), 'doomed');
    expect((await react(bob, message.id, '👍')).status).toBe(204);
    expect((await app.http().delete(`/api/v1/messages/${message.id}`).set(alice.auth)).status).toBe(204);
    const tombstone = await read(bob, message.id);
    expect(tombstone).toMatchObject({ body: null, reactions: [] });
    const refused = await react(bob, message.id, '👍');
    expect(refused.status).toBe(409);
    expect(refused.body.message).toBe('Message has been deleted');
    expect((await unreact(bob, message.id, '👍')).status).toBe(204);
    expect((await read(bob, message.id)).changeSeq).toBe(tombstone.changeSeq);
    expect(await reactionCountsDrift()).toEqual([]);
  });
});

describe('replies and threads', () => {
  it('answers a message of the same conversation: replyToId, threadId, and the root’s replyCount and lastReplyAt, announced', async () => {
    const [alice, bob] = await users(2);
    const groupId = await newGroup(app, alice, [bob]);
    const root = await send(app, alice, groupId, 'root');
    const aliceSocket = await connect(alice);
    const first = await reply(bob, groupId, root.id, 'first');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ replyToId: root.id, threadId: root.id, replyCount: 0, lastReplyAt: null });
    await aliceSocket.next(forMessage(first.body.id, 'message.created'));
    const rootFrame = await aliceSocket.next<MessageFrame>(forMessage(root.id, 'message.updated'));
    // The reply takes the next change, the root's new count the one after.
    expect(rootFrame.changeSeq).toBe(first.body.changeSeq + 1);
    const rootNow = await read(alice, root.id);
    expect(rootNow).toMatchObject({ replyCount: 1, lastReplyAt: first.body.createdAt, threadId: null, replyToId: null, changeSeq: rootFrame.changeSeq });

    // A reply to a reply joins the root's thread.
    const second = await reply(alice, groupId, first.body.id, 'second');
    expect(second.body).toMatchObject({ replyToId: first.body.id, threadId: root.id });
    expect(await read(alice, root.id)).toMatchObject({ replyCount: 2, lastReplyAt: second.body.createdAt });
    expect((await read(alice, first.body.id)).replyCount).toBe(0);

    // Replies stay in the conversation's history like any message.
    const history = await app.http().get(`/api/v1/conversations/${groupId}/messages`).set(alice.auth);
    expect(history.body.items.map((m: MessageView) => m.id)).toEqual([second.body.id, first.body.id, root.id]);
    const thread = await app.http().get(`/api/v1/messages/${root.id}/thread`).set(bob.auth);
    expect(thread.status).toBe(200);
    expect(thread.body).toEqual({ items: [await read(bob, first.body.id), await read(bob, second.body.id)], hasMore: false });
    // A reply is no root: its own thread is empty.
    expect((await app.http().get(`/api/v1/messages/${first.body.id}/thread`).set(bob.auth)).body).toEqual({ items: [], hasMore: false });
  });

  it('answers a deleted message, which the reply shows as its tombstone', async () => {
    const [alice, bob] = await users(2);
    const conversationId = await newDirect(app, alice, bob);
    const doomed = await send(app, alice, conversationId, 'soon gone');
    expect((await app.http().delete(`/api/v1/messages/${doomed.id}`).set(alice.auth)).status).toBe(204);
    const answer = await reply(bob, conversationId, doomed.id, 'what did you say?');
    expect(answer.status).toBe(201);
    expect(answer.body.replyToId).toBe(doomed.id);
    expect(await read(bob, doomed.id)).toMatchObject({ body: null, deletedAt: expect.any(String), replyCount: 1 });
  });

  it('refuses an answer to a message of another conversation, or to none, with 400, storing nothing', async () => {
    const [alice, bob, carol] = await users(3);
    const conversationId = await newDirect(app, alice, bob);
    const elsewhere = await send(app, carol, await newDirect(app, carol, alice), 'another conversation');
    const secret = await send(app, carol, await newDirect(app, carol, bob), 'not yours');
    for (const replyToId of [elsewhere.id, secret.id, '987654321']) {
      const answer = await reply(alice, conversationId, replyToId);
      expect(answer.status, replyToId).toBe(400);
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'replyToId must be a message of the same conversation' });
    }
    const malformed = await reply(alice, conversationId, 'abc' as string);
    expect(malformed.body).toEqual({ statusCode: 400, error: 'Bad Request', message: ['replyToId must be an id (a decimal string)'] });
    // A non-member is told what it would be told without the reply: no such conversation.
    expect((await reply(carol, conversationId, elsewhere.id)).status).toBe(404);
    expect((await conversation(alice, conversationId)).lastSeq).toBe(0);
    // A refused reply stored nothing under its clientMessageId.
    const refused = await app.http().post('/api/v1/messages').set(alice.auth).send({ conversationId, body: 'x', replyToId: secret.id, clientMessageId: 'c1' });
    expect(refused.status).toBe(400);
    expect((await app.http().post('/api/v1/messages').set(alice.auth).send({ conversationId, body: 'x', clientMessageId: 'c1' })).status).toBe(201);
  });

  it('counts replies exactly when many arrive at once', { timeout: 60_000 }, async () => {
    const [owner, ...members] = await users(8);
    const groupId = await newGroup(app, owner, members);
    const root = await send(app, owner, groupId, 'thread me');
    const other = await send(app, owner, groupId, 'another root');
    const ownerSocket = await connect(owner);
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => reply(members[i % members.length], groupId, i % 4 === 3 ? other.id : root.id, `reply ${i}`)),
    );
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 201));
    const rootNow = await read(owner, root.id);
    expect(rootNow.replyCount).toBe(45);
    expect((await read(owner, other.id)).replyCount).toBe(15);
    const last = answers.filter((answer) => answer.body.threadId === root.id).map((answer) => answer.body.createdAt as string).sort().at(-1);
    expect(rootNow.lastReplyAt).toBe(last);
    // The thread, a page at a time, oldest first.
    const ids: string[] = [];
    let after = 0;
    for (;;) {
      const page = await app.http().get(`/api/v1/messages/${root.id}/thread`).query({ after, limit: 10 }).set(owner.auth);
      ids.push(...page.body.items.map((m: MessageView) => m.id));
      if (!page.body.hasMore) break;
      after = page.body.items.at(-1).seq;
    }
    const expected = answers.filter((answer) => answer.body.threadId === root.id).sort((a, b) => a.body.seq - b.body.seq);
    expect(ids).toEqual(expected.map((answer) => answer.body.id));
    // Every change has its own number: the messages, and each root once per statement that answered it.
    const state = await conversation(owner, groupId);
    const feed = await app.http().get(`/api/v1/conversations/${groupId}/changes`).query({ since: 0, limit: 500 }).set(owner.auth);
    expect(feed.body.items.at(-1).changeSeq).toBe(state.lastChangeSeq);
    const frames = (await ownerSocket.collect((f) => f.type.startsWith('message.') && 'conversationId' in f && f.conversationId === groupId, 500)) as MessageFrame[];
    const changeSeqs = frames.map((f) => f.changeSeq).sort((a, b) => a - b);
    expect(changeSeqs).toEqual(Array.from({ length: changeSeqs.length }, (_, i) => changeSeqs[0] + i));
    expect(changeSeqs.at(-1)).toBe(state.lastChangeSeq);
  });
});

describe('pins', () => {
  it('pins and unpins a message idempotently (any member), lists pins newest first, and announces each change', async () => {
    const [owner, member] = await users(2);
    const groupId = await newGroup(app, owner, [member]);
    const [first, second] = [await send(app, owner, groupId, 'first'), await send(app, owner, groupId, 'second')];
    const ownerSocket = await connect(owner);
    const pins = (id: string) => `/api/v1/conversations/${groupId}/pins/${id}`;
    expect((await app.http().put(pins(first.id)).set(member.auth)).status).toBe(204);
    const frame = await ownerSocket.next<MessageFrame>(forMessage(first.id, 'message.updated'));
    expect(frame.changeSeq).toBe(second.changeSeq + 1);
    expect(await read(owner, first.id)).toMatchObject({ pinned: true, pinnedBy: member.id, pinnedAt: expect.any(String), changeSeq: frame.changeSeq });
    expect((await app.http().put(pins(first.id)).set(owner.auth)).status).toBe(204);
    expect((await app.http().put(pins(second.id)).set(owner.auth)).status).toBe(204);
    const listed = await app.http().get(`/api/v1/conversations/${groupId}/pins`).set(member.auth);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ items: [await read(member, second.id), await read(member, first.id)] });
    expect((await app.http().delete(pins(first.id)).set(owner.auth)).status).toBe(204);
    expect((await app.http().delete(pins(first.id)).set(owner.auth)).status).toBe(204);
    expect(await read(owner, first.id)).toMatchObject({ pinned: false, pinnedAt: null, pinnedBy: null });
    const frames = (await ownerSocket.collect((f) => f.type === 'message.updated', 300)) as MessageFrame[];
    expect(frames.map((f) => [f.id, f.changeSeq])).toEqual([
      [second.id, frame.changeSeq + 1],
      [first.id, frame.changeSeq + 2],
    ]);
    expect((await app.http().get(`/api/v1/conversations/${groupId}/pins`).set(member.auth)).body.items.map((m: MessageView) => m.id)).toEqual([second.id]);
  });

  it('pins only a live message of the conversation: another conversation’s is 404, a deleted one 409', async () => {
    const [alice, bob] = await users(2);
    const conversationId = await newDirect(app, alice, bob);
    const elsewhere = await send(app, alice, await newGroup(app, alice, []), 'mine, elsewhere');
    const doomed = await send(app, alice, conversationId, 'doomed');
    expect((await app.http().put(`/api/v1/conversations/${conversationId}/pins/${doomed.id}`).set(bob.auth)).status).toBe(204);
    expect((await app.http().delete(`/api/v1/messages/${doomed.id}`).set(alice.auth)).status).toBe(204);
    // Deleting a message unpins it.
    expect((await app.http().get(`/api/v1/conversations/${conversationId}/pins`).set(bob.auth)).body).toEqual({ items: [] });
    expect((await read(bob, doomed.id)).pinned).toBe(false);
    const deleted = await app.http().put(`/api/v1/conversations/${conversationId}/pins/${doomed.id}`).set(bob.auth);
    expect(deleted.status).toBe(409);
    const foreign = await app.http().put(`/api/v1/conversations/${conversationId}/pins/${elsewhere.id}`).set(alice.auth);
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Message not found' });
    expect((await read(alice, elsewhere.id)).pinned).toBe(false);
  });

  it('holds at most 50 pins, even when many are pinned at once', { timeout: 60_000 }, async () => {
    const [alice, bob] = await users(2);
    const conversationId = await newDirect(app, alice, bob);
    const messages = [];
    for (let i = 0; i < 60; i++) messages.push(await send(app, i % 2 ? alice : bob, conversationId, `m${i}`));
    const answers = await Promise.all(messages.map((m, i) => app.http().put(`/api/v1/conversations/${conversationId}/pins/${m.id}`).set(i % 2 ? alice.auth : bob.auth)));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 204)).toHaveLength(50);
    expect(statuses.filter((status) => status === 409)).toHaveLength(10);
    expect(answers.find((answer) => answer.status === 409)!.body.message).toBe('A conversation holds at most 50 pinned messages');
    const listed = await app.http().get(`/api/v1/conversations/${conversationId}/pins`).set(alice.auth);
    expect(listed.body.items).toHaveLength(50);
  });
});

describe('mentions', () => {
  it('names members written as @username, and only members', async () => {
    const [alice, bob, carol, outsider] = await users(4, 'mention');
    const groupId = await newGroup(app, alice, [bob, carol]);
    const body = `hi @${bob.username}, @${carol.username.toUpperCase()}. and @${outsider.username} and mail ${bob.username}@example.org @nobody_here @${bob.username}`;
    const sent = await send(app, alice, groupId, body);
    const message = await read(bob, sent.id);
    expect(message.mentionedUserIds).toEqual([bob.id, carol.id].sort((a, b) => Number(a) - Number(b)));
    expect((sent as unknown as MessageView).mentionedUserIds).toEqual(message.mentionedUserIds);
    // A longer name is someone else's.
    const longer = await send(app, alice, groupId, `@${bob.username}x is someone else`);
    expect((await read(bob, longer.id)).mentionedUserIds).toEqual([]);
  });

  it('counts a member’s unread mentions as messages are sent, read, edited and deleted', async () => {
    const [alice, bob, carol] = await users(3, 'count');
    const groupId = await newGroup(app, alice, [bob, carol]);
    const mention = (who: TestUser) => `@${who.username}`;
    const one = await send(app, alice, groupId, `${mention(bob)} one`);
    const two = await send(app, carol, groupId, `${mention(bob)} and ${mention(alice)} two`);
    await send(app, alice, groupId, 'no mention');
    expect((await conversation(bob, groupId)).mentionCount).toBe(2);
    expect((await conversation(carol, groupId)).mentionCount).toBe(0);
    // Alice's own send read Carol's message: its mention of her is read too.
    expect((await conversation(alice, groupId)).mentionCount).toBe(0);
    // Bob reads up to the first.
    expect((await app.http().post(`/api/v1/conversations/${groupId}/read`).set(bob.auth).send({ seq: one.seq })).status).toBe(204);
    expect((await conversation(bob, groupId)).mentionCount).toBe(1);
    // An edit that names Carol, and no longer Bob.
    expect((await app.http().patch(`/api/v1/messages/${two.id}`).set(carol.auth).send({ body: `now ${mention(carol)} and ${mention(alice)}` })).status).toBe(200);
    expect((await read(bob, two.id)).mentionedUserIds).toEqual([alice.id, carol.id].sort((a, b) => Number(a) - Number(b)));
    expect((await conversation(bob, groupId)).mentionCount).toBe(0);
    expect((await conversation(alice, groupId)).mentionCount).toBe(0);
    // An edit of a message Bob has read names him: it is not unread.
    expect((await app.http().patch(`/api/v1/messages/${one.id}`).set(alice.auth).send({ body: `${mention(bob)} one, edited` })).status).toBe(200);
    expect((await conversation(bob, groupId)).mentionCount).toBe(0);
    // A mention of Bob, deleted before he reads it.
    const three = await send(app, carol, groupId, `${mention(bob)} three`);
    expect((await conversation(bob, groupId)).mentionCount).toBe(1);
    expect((await app.http().delete(`/api/v1/messages/${three.id}`).set(carol.auth)).status).toBe(204);
    expect((await conversation(bob, groupId)).mentionCount).toBe(0);
    expect((await read(bob, three.id)).mentionedUserIds).toEqual([]);
    // Sending reads everything before it.
    await send(app, carol, groupId, `${mention(bob)} four`);
    expect((await conversation(bob, groupId)).mentionCount).toBe(1);
    await send(app, bob, groupId, 'read it all');
    expect((await conversation(bob, groupId)).mentionCount).toBe(0);
    const list = await app.http().get('/api/v1/conversations').set(bob.auth);
    expect(list.body.items.find((c: { id: string }) => c.id === groupId).mentionCount).toBe(0);
    expect(await mentionsOutOfStep()).toEqual([]);
  });

  it('keeps mentions and the counts exact when mentions, reads, edits and deletes all happen at once', { timeout: 60_000 }, async () => {
    const people = await users(6, 'busy');
    const [owner, ...others] = people;
    const groupId = await newGroup(app, owner, others);
    const names = people.map((person) => `@${person.username}`).join(' ');
    const sent: { id: string; sender: TestUser }[] = [];
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 80; i++) {
      const sender = people[i % people.length];
      work.push(
        app.http().post('/api/v1/messages').set(sender.auth).send({ conversationId: groupId, body: `${i} ${i % 2 ? names : `@${people[(i + 1) % people.length].username}`}` })
          .then((answer) => {
            expect(answer.status).toBe(201);
            sent.push({ id: answer.body.id, sender });
          }),
      );
      const reader = people[(i * 5) % people.length];
      work.push(app.http().post(`/api/v1/conversations/${groupId}/read`).set(reader.auth).send({ seq: i }));
      if (i % 7 === 6 && sent.length > 0) {
        const target = sent[(i * 3) % sent.length];
        work.push(
          i % 2
            ? app.http().patch(`/api/v1/messages/${target.id}`).set(target.sender.auth).send({ body: `edited ${names}` })
            : app.http().delete(`/api/v1/messages/${target.id}`).set(target.sender.auth),
        );
      }
    }
    const answers = (await Promise.all(work)) as { status?: number }[];
    expect(answers.filter((answer) => answer?.status !== undefined && answer.status >= 500)).toEqual([]);
    expect(await mentionsOutOfStep()).toEqual([]);
    const truth = await unreadMentions(groupId);
    for (const person of people) expect((await conversation(person, groupId)).mentionCount, person.username).toBe(truth.get(person.id));
    expect([...truth.values()].some((count) => count > 0)).toBe(true);
  });
});
