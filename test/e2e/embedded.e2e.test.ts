import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.setup.js';
import { loadConfig } from '../../src/config/app-config.js';
import type { TestApp } from '../support/app.js';
import supertest from 'supertest';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { newUser, send, newDirect, PASSWORD, uniqueName } from '../support/factories.js';
import { startService } from '../support/processes.js';
import { errors, rows, wire, WireClient } from '../support/pg-wire.js';
import { forMessage, TestSocket } from '../support/ws-client.js';

/** Boots the app as `npm start` does with no DATABASE_URL: on the embedded PostgreSQL. */
async function startEmbedded(dataDir: string): Promise<TestApp> {
  const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, SCRYPT_COST: '1024', JWT_SECRET: 'embedded-test-secret-long-enough-0000' });
  expect(config.databaseUrl).toBeUndefined();
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return { app, config, url, wsUrl: `ws://127.0.0.1:${port}/ws`, http: () => supertest.agent(url), close: () => app.close() };
}

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'parley-embedded-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('the embedded PostgreSQL (no DATABASE_URL)', () => {
  it('runs the whole loop, and keeps the data across a restart', async () => {
    let app = await startEmbedded(dataDir);
    const [a, b] = [await newUser(app), await newUser(app)];
    const conversationId = await newDirect(app, a, b);
    const socket = await TestSocket.connect(app.wsUrl, { token: b.token });
    const message = await send(app, a, conversationId, 'stored in ./data');
    await socket.next(forMessage(message.id, 'message.created'));
    socket.close();
    await app.close();

    app = await startEmbedded(dataDir);
    try {
      const login = await app.http().post('/api/v1/auth/login').send({ username: b.username, password: 'correct horse battery' });
      expect(login.status).toBe(200);
      const history = await app
        .http()
        .get(`/api/v1/conversations/${conversationId}/messages`)
        .set('Authorization', `Bearer ${login.body.accessToken}`);
      expect(history.body.items.map((m: { body: string }) => m.body)).toEqual(['stored in ./data']);
      // Concurrent sends are serialised by the embedded server and still get gapless seqs.
      const [again] = [await newUser(app)];
      const other = await newDirect(app, again, a);
      const seqs = await Promise.all(Array.from({ length: 10 }, (_, i) => send(app, again, other, `m${i}`).then((m) => m.seq)));
      expect(seqs.sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    } finally {
      await app.close();
    }
  });
});

describe('`npm start` with no JWT_SECRET (the built server on the embedded PostgreSQL)', () => {
  it('keeps its signing secret in DATA_DIR, so tokens outlive a restart', { timeout: 120_000 }, async () => {
    const ownDir = await mkdtemp(path.join(tmpdir(), 'parley-secret-'));
    try {
      let service = await startService({ DATA_DIR: ownDir });
      const registered = await service.http().post('/api/v1/auth/register').send({ username: uniqueName('kept'), password: PASSWORD });
      expect(registered.status).toBe(201);
      await service.kill();

      service = await startService({ DATA_DIR: ownDir });
      try {
        const me = await service.http().get('/api/v1/users/me').set('Authorization', `Bearer ${registered.body.accessToken}`);
        expect(me.status).toBe(200);
        expect(me.body.id).toBe(registered.body.user.id);
      } finally {
        await service.kill();
      }
      // Readable by its owner only: the secret signs every token.
      expect((await stat(path.join(ownDir, 'jwt-secret'))).mode & 0o777).toBe(0o600);
    } finally {
      await rm(ownDir, { recursive: true, force: true });
    }
  });
});

describe('the embedded server’s one session, shared by many connections', () => {
  let embedded: EmbeddedPostgres;
  let port: number;

  beforeAll(async () => {
    embedded = new EmbeddedPostgres(path.join(dataDir, 'sessions'), 10);
    port = Number(new URL(await embedded.start()).port);
  });

  afterAll(async () => {
    await embedded.stop();
  });

  it('gives a connection the session for a whole batch, so statements never mix', async () => {
    const [a, b] = [await WireClient.open(port), await WireClient.open(port)];
    try {
      const answered: string[] = [];
      // A parses and has not bound yet when B sends a whole batch of its own.
      a.send(wire.parse('SELECT $1::int + $2::int AS sum'));
      await a.readUntil('1');
      b.send(wire.parse('SELECT $1::int AS one'), wire.bind('7'), wire.execute(), wire.sync());
      const bDone = b.readUntil('Z').then((messages) => (answered.push('b'), messages));
      a.send(wire.bind('2', '3'), wire.execute(), wire.sync());
      const aMessages = await a.readUntil('Z');
      answered.push('a');
      const bMessages = await bDone;
      expect(errors(aMessages)).toEqual([]);
      expect(rows(aMessages)).toEqual([['5']]);
      expect(rows(bMessages)).toEqual([['7']]);
      // B waited for A's Sync instead of replacing A's statement.
      expect(answered).toEqual(['a', 'b']);
    } finally {
      a.close();
      b.close();
    }
  });

  it('rolls back and frees the session when a connection drops inside a transaction', async () => {
    const setup = await WireClient.open(port);
    setup.send(wire.query('CREATE TABLE dropped_mid_transaction (n int)'));
    await setup.readUntil('Z');
    setup.close();

    const quitter = await WireClient.open(port);
    quitter.send(wire.query('BEGIN'), wire.query('INSERT INTO dropped_mid_transaction VALUES (1)'));
    await quitter.readUntil('Z');
    await quitter.readUntil('Z');
    quitter.close();

    const other = await WireClient.open(port);
    try {
      other.send(wire.query('SELECT count(*) FROM dropped_mid_transaction'));
      const messages = await other.readUntil('Z');
      expect(rows(messages)).toEqual([['0']]);
      // ReadyForQuery 'I': the next connection is not inside the one that went.
      expect(messages.at(-1)!.body.toString()).toBe('I');
    } finally {
      other.close();
    }
  });
});
