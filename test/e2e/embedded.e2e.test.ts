import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.setup.js';
import { loadConfig } from '../../src/config/app-config.js';
import type { TestApp } from '../support/app.js';
import supertest from 'supertest';
import { newUser, send, newDirect } from '../support/factories.js';
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
