import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { FanoutRelay } from '../../src/messages/fanout-relay.js';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newGroup, newUser, send } from '../support/factories.js';
import { ownDatabase } from '../support/own-database.js';
import { startService, type ServiceProcess } from '../support/processes.js';
import { forMessage, TestSocket } from '../support/ws-client.js';

/**
 * Issue 32's durable fan-out: an instance that commits a message and dies before publishing its
 * frame (here killed with SIGKILL at that very point, PARLEY_TEST_CRASH_AT) leaves an outbox row,
 * which the other instance relays; the members connected there get the frame within the bound
 * of docs/architecture.md (5 s), once, and nothing again when the dead instance comes back.
 *
 * On a database of its own: every instance relays any row left in its database, and the apps of
 * other suites, on other Redis prefixes, would take this suite's rows and publish them where
 * its sockets are not (one installation, one database, is the deployment this models).
 */
let database: Awaited<ReturnType<typeof ownDatabase>>;

beforeAll(async () => {
  database = await ownDatabase('fanout');
});

afterAll(async () => {
  await database?.drop();
});

const JWT_SECRET = 'durable-fanout-secret-long-enough-000000';
const BOUND_MS = 5_000;

const asApp = (service: ServiceProcess) => service as unknown as TestApp;
const sockets: TestSocket[] = [];
async function connect(service: ServiceProcess, token: string): Promise<TestSocket> {
  const socket = await TestSocket.connect(service.wsUrl, { token });
  sockets.push(socket);
  return socket;
}

describe('a send whose instance dies between commit and publish', () => {
  let env: Record<string, string>;
  let survivor: ServiceProcess;
  let doomed: ServiceProcess | undefined;

  beforeAll(async () => {
    env = {
      DATABASE_URL: database?.url ?? inject('databaseUrl'),
      REDIS_URL: process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379',
      REDIS_CHANNEL_PREFIX: `t${randomBytes(4).toString('hex')}`,
      JWT_SECRET,
    };
    survivor = await startService(env);
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  afterAll(async () => {
    await Promise.all([survivor?.kill(), doomed?.kill()]);
  });

  it('reaches the members connected elsewhere within the bound, once each, and not again after a restart', async () => {
    const [alice, bob, carol] = [await newUser(asApp(survivor)), await newUser(asApp(survivor)), await newUser(asApp(survivor))];
    const groupId = await newGroup(asApp(survivor), alice, [bob, carol]);
    const directId = await newDirect(asApp(survivor), alice, bob);
    const listeners = [await connect(survivor, bob.token), await connect(survivor, bob.token), await connect(survivor, carol.token), await connect(survivor, alice.token)];

    // Started with the fault, the instance dies at its first send, the moment that send commits.
    doomed = await startService({ ...env, PARLEY_TEST_CRASH_AT: 'send-committed' });
    const port = new URL(doomed.url).port;
    const sentAt = Date.now();
    const attempt = await doomed
      .http()
      .post('/api/v1/messages')
      .set(alice.auth)
      .send({ conversationId: groupId, body: 'sent as the instance died' })
      .then(
        (response) => response.status,
        (error: Error) => error.message,
      );
    expect(attempt).not.toBe(201);
    expect(await doomed.exited).toBe(-1);

    // The message committed: the survivor serves it, and every member connected there hears of it.
    const history = await survivor.http().get(`/api/v1/conversations/${groupId}/messages`).set(bob.auth);
    expect(history.status).toBe(200);
    const stored = history.body.items.find((item: { body: string }) => item.body === 'sent as the instance died');
    expect(stored).toBeDefined();
    for (const socket of listeners) {
      const frame = await socket.next(forMessage(stored.id, 'message.created'), BOUND_MS + 2_000);
      expect(frame).toEqual({ type: 'message.created', id: stored.id, conversationId: groupId, seq: stored.seq, changeSeq: stored.changeSeq });
    }
    console.log(`durable fan-out: the relayed frame arrived ${Date.now() - sentAt} ms after the send (bound ${BOUND_MS} ms)`);

    // The dead instance comes back where it was, and the sockets move on with new messages.
    doomed = await startService({ ...env, PORT: port });
    const later = [await connect(doomed, bob.token), await connect(doomed, carol.token)];
    const next = await send(asApp(doomed), alice, directId, 'after the restart');
    await later[0].next(forMessage(next.id, 'message.created'));
    // Past another relay round on both instances: nobody got the first message twice, and the
    // sockets opened after it never got it.
    await new Promise((resolve) => setTimeout(resolve, 2 * 1_000 + 500));
    for (const socket of [...listeners, ...later]) {
      expect(socket.frames.filter(forMessage(stored.id, 'message.created'))).toEqual([]);
    }
    expect(listeners[0].frames.filter(forMessage(next.id, 'message.created'))).toHaveLength(1);
    expect(listeners[1].frames.filter(forMessage(next.id, 'message.created'))).toHaveLength(1);
  });
});

describe('the outbox relay on one instance', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp(database ? { DATABASE_URL: database.url } : {});
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('clears the row of a send it published, and hands a relayed frame to no connection twice', async () => {
    const [alice, bob] = [await newUser(app), await newUser(app)];
    const conversationId = await newDirect(app, alice, bob);
    const bobSocket = await TestSocket.connect(app.wsUrl, { token: bob.token });
    sockets.push(bobSocket);
    const message = await send(app, alice, conversationId, 'published at once');
    await bobSocket.next(forMessage(message.id, 'message.created'));

    const db = app.app.get(DataSource);
    const left = async () => (await db.query(`SELECT count(*)::int AS n FROM fanout_outbox WHERE $1::bigint = ANY (message_ids)`, [message.id]))[0].n;
    await vi.waitFor(async () => expect(await left()).toBe(0), { timeout: 2_000 });

    // As if its sender had been too slow to clear it: the relay announces it again, and the
    // instance, which handed it to Bob already, does not hand it to him twice.
    await db.query(`INSERT INTO fanout_outbox (first_id, message_ids, created_at) VALUES ($1, ARRAY[$1::bigint], now() - interval '1 minute')`, [message.id]);
    expect(await app.app.get(FanoutRelay).relayLeft()).toBeGreaterThanOrEqual(1);
    expect(await left()).toBe(0);
    expect(await bobSocket.collect(forMessage(message.id), 300)).toEqual([]);
  });
});
