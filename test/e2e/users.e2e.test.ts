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

describe('PATCH /api/v1/users/me', () => {
  it('changes the display name and sharing settings given, keeps the rest, and shows them only to their owner', async () => {
    const [alice, bob] = [await newUser(app), await newUser(app)];
    const before = await app.http().get('/api/v1/users/me').set(alice.auth);
    expect(before.body).toMatchObject({ id: alice.id, shareReadReceipts: true, sharePresence: true });

    const renamed = await app.http().patch('/api/v1/users/me').set(alice.auth).send({ displayName: '  Alice A.  ', sharePresence: false });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toEqual({
      id: alice.id,
      username: alice.username,
      displayName: 'Alice A.',
      createdAt: before.body.createdAt,
      shareReadReceipts: true,
      sharePresence: false,
    });
    const receipts = await app.http().patch('/api/v1/users/me').set(alice.auth).send({ shareReadReceipts: false });
    expect(receipts.body).toMatchObject({ displayName: 'Alice A.', shareReadReceipts: false, sharePresence: false });
    expect((await app.http().get('/api/v1/users/me').set(alice.auth)).body).toEqual(receipts.body);
    // An empty body changes nothing.
    expect((await app.http().patch('/api/v1/users/me').set(alice.auth).send({})).body).toEqual(receipts.body);

    // Others see the new name, not the settings.
    const seen = await app.http().get(`/api/v1/users/${alice.id}`).set(bob.auth);
    expect(seen.body).toEqual({ id: alice.id, username: alice.username, displayName: 'Alice A.', createdAt: before.body.createdAt });
    // Bob's own settings are untouched.
    expect((await app.http().get('/api/v1/users/me').set(bob.auth)).body).toMatchObject({ shareReadReceipts: true, sharePresence: true });
  });

  it('answers 401 without a token', async () => {
    expect((await app.http().patch('/api/v1/users/me').send({ sharePresence: false })).status).toBe(401);
  });
});
