import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newUser } from '../support/factories.js';

let app: TestApp;

beforeAll(async () => {
  app = await startApp();
});

afterAll(async () => {
  await app.close();
});

describe('GET /api/v1/users/:id', () => {
  it('answers an active user by id, the caller included, so clients can name conversation members', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const response = await app.http().get(`/api/v1/users/${bob.id}`).set(alice.auth);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ id: bob.id, username: bob.username, displayName: bob.username, createdAt: expect.any(String) });
    expect((await app.http().get(`/api/v1/users/${alice.id}`).set(alice.auth)).body.id).toBe(alice.id);
  });

  it('answers 404 for an unknown, malformed or deactivated id, and 401 without a token', async () => {
    const [alice, gone] = [await newUser(app), await newUser(app)];
    await app.app.get(DataSource).query('UPDATE users SET active = false WHERE id = $1', [gone.id]);
    for (const id of [gone.id, '999999999999', 'abc', '0']) {
      const response = await app.http().get(`/api/v1/users/${id}`).set(alice.auth);
      expect(response.status, id).toBe(404);
      expect(response.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
    }
    expect((await app.http().get(`/api/v1/users/${alice.id}`)).status).toBe(401);
  });
});
