import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SendTimeline } from '../../src/messages/send-trace.js';
import { ownDatabase } from '../support/own-database.js';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newGroup, newUser, uniqueName, type TestUser } from '../support/factories.js';
import { TestSocket } from '../support/ws-client.js';

// Several send statements in flight (SEND_BATCHES_IN_FLIGHT), each over conversations the others
// do not touch: many senders hammering conversations that share members, bots with webhooks (whose
// jobs every statement locks) and thread roots must leave no deadlock, no seq gap, no duplicate,
// and every frame of a conversation in seq order.

const IN_FLIGHT = 4;
const SENDERS = 48;
const SENDS_EACH = 20;

let database: Awaited<ReturnType<typeof ownDatabase>>;
let app: TestApp;
let appClosed = false;
let db: pg.Client;
let traceDir: string;

beforeAll(async () => {
  database = await ownDatabase('sends');
  traceDir = mkdtempSync(path.join(tmpdir(), 'parley-send-trace-'));
  app = await startApp({
    SEND_BATCHES_IN_FLIGHT: String(IN_FLIGHT),
    DATABASE_POOL_SIZE: '8',
    SEND_TRACE_FILE: path.join(traceDir, 'sends.jsonl'),
    ...(database ? { DATABASE_URL: database.url } : {}),
  });
  db = new pg.Client({ connectionString: app.config.databaseUrl });
  await db.connect();
}, 60_000);

afterAll(async () => {
  await db?.end();
  if (!appClosed) await app?.close();
  await database?.drop();
  if (traceDir) rmSync(traceDir, { recursive: true, force: true });
});

async function deadlocks(): Promise<number> {
  // Statistics reach the shared counters within a second of a backend going idle.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await db.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await db.query('SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()');
  return rows[0]?.n ?? 0;
}

async function newBotWithWebhook(owner: TestUser): Promise<string> {
  const made = await app.http().post('/api/v1/bots').set(owner.auth).send({ username: uniqueName('bot') });
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  const hook = await app.http().put(`/api/v1/bots/${made.body.bot.id}/webhook`).set(owner.auth).send({ url: 'http://127.0.0.1:9/hook' });
  expect(hook.status, JSON.stringify(hook.body)).toBe(200);
  return made.body.bot.id;
}

describe(`sends with ${IN_FLIGHT} statements in flight`, () => {
  it('hammered into overlapping conversations: no deadlock, no gap, no duplicate, frames in seq order', async () => {
    const users = await Promise.all(Array.from({ length: 10 }, () => newUser(app)));
    const [owner] = users;
    const bots = [await newBotWithWebhook(owner), await newBotWithWebhook(owner)];
    // Groups that share members (each user in several), two with a bot each, and directs.
    const conversations: { id: string; members: TestUser[] }[] = [];
    for (let g = 0; g < 6; g++) {
      const members = users.filter((_, i) => (i + g) % 3 !== 0);
      const [first, ...rest] = members;
      const id = await newGroup(app, first, rest, `group ${g}`);
      if (g < 2) {
        const added = await app.http().post(`/api/v1/conversations/${id}/members`).set(first.auth).send({ userIds: [bots[g]] });
        expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
      }
      conversations.push({ id, members });
    }
    for (let d = 0; d < 4; d++) conversations.push({ id: await newDirect(app, users[d], users[d + 5]), members: [users[d], users[d + 5]] });
    const watcher = users[1];
    const socket = await TestSocket.connect(app.wsUrl, { token: watcher.token });
    const before = await deadlocks();

    const answers: { status: number; conversationId: string; id?: string; seq?: number }[] = [];
    const hammer = (round: number) =>
      Promise.all(
        Array.from({ length: SENDERS }, async (_, s) => {
          for (let n = 0; n < SENDS_EACH; n++) {
            const conversation = conversations[(s * 7 + n * 3) % conversations.length];
            const sender = conversation.members[(s + n) % conversation.members.length];
            const earlier = answers.find((answer) => answer.conversationId === conversation.id && answer.id);
            const body = n % 5 === 0 ? `@${users[(s + 1) % users.length].username} mention ${s}/${n}` : `hammer ${s}/${n}`;
            const response = await app
              .http()
              .post('/api/v1/messages')
              .set(sender.auth)
              .send({ conversationId: conversation.id, body, clientMessageId: `hammer-${round}-${s}-${n}`, ...(n % 4 === 1 && earlier ? { replyToId: earlier.id } : {}) });
            answers.push({ status: response.status, conversationId: conversation.id, id: response.body.id, seq: response.body.seq });
          }
        }),
      );
    // Whether statements run side by side depends on how sends pile up (a second one starts
    // only beside enough waiting sends of other conversations), which the machine's speed
    // moves: the hammering is repeated, up to three rounds, until the trace shows it did.
    const traced = async (count: number): Promise<SendTimeline[]> => {
      const read = () => readFileSync(path.join(traceDir, 'sends.jsonl'), 'utf8').trim().split('\n').filter(Boolean);
      await expect.poll(() => read().length, { timeout: 10_000 }).toBe(count);
      return read().map((line) => JSON.parse(line));
    };
    let rounds = 0;
    let sideBySide = false;
    while (rounds < 3 && !sideBySide) {
      await hammer(++rounds);
      sideBySide = (await traced(rounds * SENDERS * SENDS_EACH)).some((timeline) => timeline.batchesRunning! > 1);
    }

    expect(answers.filter((answer) => answer.status !== 201)).toEqual([]);
    expect(new Set(answers.map((answer) => answer.id)).size).toBe(rounds * SENDERS * SENDS_EACH);
    for (const conversation of conversations) {
      const { rows } = await db.query(
        `SELECT seq::int, count(*) OVER ()::int AS n, max(seq) OVER ()::int AS last, c.last_seq::int
           FROM messages m JOIN conversations c ON c.id = m.conversation_id
          WHERE m.conversation_id = $1 AND m.kind = 'text' ORDER BY seq`,
        [conversation.id],
      );
      const answered = answers.filter((answer) => answer.conversationId === conversation.id).map((answer) => answer.seq).sort((x, y) => x! - y!);
      expect(rows.map((row) => row.seq)).toEqual(answered);
      // No gap: a conversation's seqs (system messages included) run from 1 to its counter.
      const all = await db.query(`SELECT seq::int FROM messages WHERE conversation_id = $1 ORDER BY seq`, [conversation.id]);
      expect(all.rows.map((row) => row.seq)).toEqual(Array.from({ length: all.rows.length }, (_, i) => i + 1));
      expect(rows[0]?.last_seq).toBe(all.rows.length);
    }
    expect(await deadlocks()).toBe(before);

    // The watcher got each of its conversations' messages once, in seq order.
    const watched = conversations.filter((conversation) => conversation.members.includes(watcher));
    const expected = answers.filter((answer) => watched.some((conversation) => conversation.id === answer.conversationId)).length;
    await expect.poll(() => socket.frames.filter((frame) => frame.type === 'message.created').length, { timeout: 10_000 }).toBe(expected);
    for (const conversation of watched) {
      const seqs = socket.frames
        .filter((frame) => frame.type === 'message.created' && frame.conversationId === conversation.id)
        .map((frame) => (frame as { seq: number }).seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
    }
    socket.close();

    // The statements did run side by side (the trace counts the ones running when each was cut).
    await app.close();
    appClosed = true;
    const timelines = await traced(rounds * SENDERS * SENDS_EACH);
    expect(Math.max(...timelines.map((timeline) => timeline.batchesRunning!))).toBeGreaterThan(1);
    // Statements that ran at the same time held no conversation in common.
    const batches = new Map<number, { cut: number; answered: number; conversations: Set<string> }>();
    for (const { batch, cut, answered, conversationId } of timelines) {
      const entry = batches.get(batch!) ?? { cut: cut!, answered: answered!, conversations: new Set<string>() };
      batches.set(batch!, entry.conversations.add(conversationId!) && entry);
    }
    const ran = [...batches.values()];
    for (const [i, one] of ran.entries()) {
      for (const other of ran.slice(i + 1)) {
        if (one.cut < other.answered && other.cut < one.answered) {
          expect([...one.conversations].filter((id) => other.conversations.has(id))).toEqual([]);
        }
      }
    }
    for (const timeline of timelines) {
      expect(timeline.arrived).toBeLessThanOrEqual(timeline.submitted!);
      expect(timeline.submitted).toBeLessThanOrEqual(timeline.cut!);
      expect(timeline.cut).toBeLessThanOrEqual(timeline.answered!);
      expect(timeline.answered).toBeLessThanOrEqual(timeline.framesOut!);
      expect(timeline.framesOut).toBeLessThanOrEqual(timeline.replied!);
      expect(timeline.status).toBe(201);
    }
  }, 120_000);
});
