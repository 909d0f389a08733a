import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { TestApp } from './app.js';

export interface TestUser {
  id: string;
  username: string;
  token: string;
  auth: { Authorization: string };
  refreshToken: string;
  /** The session of the registration (the access token's `sid`). */
  sessionId: string;
}

export const PASSWORD = 'correct horse battery';

export function uniqueName(prefix = 'u'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export async function newUser(app: TestApp, prefix = 'u'): Promise<TestUser> {
  const username = uniqueName(prefix);
  const response = await app.http().post('/api/v1/auth/register').send({ username, password: PASSWORD });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return testUser(username, response.body);
}

/** The user of a register or login answer. */
export function testUser(username: string, answer: { user: { id: string }; accessToken: string; refreshToken: string }): TestUser {
  const token = answer.accessToken;
  return {
    id: answer.user.id,
    username,
    token,
    auth: { Authorization: `Bearer ${token}` },
    refreshToken: answer.refreshToken,
    sessionId: tokenClaims(token).sid,
  };
}

/** An access token's claims, read without checking its signature. */
export function tokenClaims(token: string): { sub: string; sid: string; tv: number; exp: number } {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

export async function newDirect(app: TestApp, a: TestUser, b: TestUser): Promise<string> {
  const response = await app.http().post('/api/v1/conversations').set(a.auth).send({ type: 'direct', userId: b.id });
  expect([200, 201]).toContain(response.status);
  return response.body.id;
}

export async function newGroup(app: TestApp, owner: TestUser, members: TestUser[], title = 'group'): Promise<string> {
  const response = await app
    .http()
    .post('/api/v1/conversations')
    .set(owner.auth)
    .send({ type: 'group', title, memberIds: members.map((m) => m.id) });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body.id;
}

export async function send(app: TestApp, from: TestUser, conversationId: string, body: string) {
  const response = await app.http().post('/api/v1/messages').set(from.auth).send({ conversationId, body });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body as { id: string; seq: number; conversationId: string; changeSeq: number };
}

/** Two users with a direct conversation, a group, and one message: the usual scene of a suite. */
export async function newScene(app: TestApp) {
  const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
  const directId = await newDirect(app, alice, bob);
  const groupId = await newGroup(app, alice, [bob]);
  const messageId = (await send(app, alice, directId, 'hello')).id;
  return { alice, bob, directId, groupId, messageId };
}
