import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newUser, PASSWORD, uniqueName } from '../support/factories.js';

const root = path.resolve(import.meta.dirname, '../..');

/** `node dist/src/cli.js …` (what `npm run cli --` runs after building), password on stdin. */
function cli(args: string[], stdin: string, env: Record<string, string> = { DATABASE_URL: inject('databaseUrl') }) {
  return spawnSync(process.execPath, ['dist/src/cli.js', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', SCRYPT_COST: '1024', ...env },
    input: stdin,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

let app: TestApp;

beforeAll(async () => {
  app = await startApp();
});

afterAll(async () => {
  await app.close();
});

async function loginStatus(username: string, password: string) {
  return app.http().post('/api/v1/auth/login').send({ username, password });
}

async function isAdmin(token: string): Promise<boolean> {
  const response = await app.http().get('/api/v1/admin/stats').set('Authorization', `Bearer ${token}`);
  expect([200, 403]).toContain(response.status);
  return response.status === 200;
}

describe('create-admin on the command line', () => {
  it('creates an admin with the password read from stdin', async () => {
    const name = uniqueName('Boss');
    const result = cli(['create-admin', name], 'a good password\n');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`created admin ${name.toLowerCase()}\n`);
    const login = await loginStatus(name, 'a good password');
    expect(login.status).toBe(200);
    expect(await isAdmin(login.body.accessToken)).toBe(true);

    // Again with the same password: nothing to do, sessions kept.
    const again = cli(['create-admin', name], 'a good password\n');
    expect(again.stdout).toBe(`${name.toLowerCase()} was already an active admin\n`);
    expect(await isAdmin(login.body.accessToken)).toBe(true);
  });

  it('promotes (and reactivates) an existing user, giving it the new password and revoking its old tokens', async () => {
    const user = await newUser(app, 'promote');
    const result = cli(['create-admin', user.username], 'another password\n');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${user.username} is now an active admin\n`);
    expect((await app.http().get('/api/v1/users/me').set(user.auth)).status).toBe(401);
    expect((await loginStatus(user.username, PASSWORD)).status).toBe(401);
    const login = await loginStatus(user.username, 'another password');
    expect(await isAdmin(login.body.accessToken)).toBe(true);
  });

  it.each([
    [['create-admin', 'x!'], 'long enough pw\n', 1, 'create-admin: username must be 3–32 characters of a-z 0-9 _ . -\n'],
    [['create-admin', 'valid_name'], 'short\n', 1, 'create-admin: password must be 8–128 characters\n'],
    // Counted in characters, as registration counts them: 7 emoji are 14 UTF-16 code units.
    [['create-admin', 'valid_name'], `${'😀'.repeat(7)}\n`, 1, 'create-admin: password must be 8–128 characters\n'],
    [['create-admin'], '', 2, /^usage: parley create-admin <username>/],
    [['drop-tables'], '', 2, /^usage: parley create-admin <username>/],
  ])('%j with stdin %j exits with %i', (args, stdin, status, message) => {
    const result = cli(args as string[], stdin as string);
    expect(result.status).toBe(status);
    if (typeof message === 'string') expect(result.stderr).toBe(message);
    else expect(result.stderr).toMatch(message);
  });
});

describe('create-admin on the embedded database', () => {
  it('refuses to open a data directory that a running server holds', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'parley-cli-'));
    try {
      // This test's own process stands for the running server.
      await writeFile(path.join(dataDir, 'pg.lock'), String(process.pid));
      const result = cli(['create-admin', 'someone'], 'a good password\n', { DATA_DIR: dataDir });
      expect(result.status).toBe(1);
      // One line, no stack.
      expect(result.stderr).toBe(
        `create-admin: the embedded database in ${dataDir} is in use by process ${process.pid}: stop that process first, ` +
          `or set DATABASE_URL (if no Parley is running there, delete ${path.join(dataDir, 'pg.lock')})\n`,
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a data directory locked from another host (a container on a shared volume), whatever the pid', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'parley-cli-'));
    try {
      // Its pid is the CLI's own as often as not (pid 1 in every container): it was taken over.
      await writeFile(path.join(dataDir, 'pg.lock'), '1@another-container');
      const result = cli(['create-admin', 'someone'], 'a good password\n', { DATA_DIR: dataDir });
      expect(result.status).toBe(1);
      expect(result.stderr).toBe(
        `create-admin: the embedded database in ${dataDir} is in use by process 1 on host another-container: stop that process ` +
          `first, or set DATABASE_URL (if no Parley is running there, delete ${path.join(dataDir, 'pg.lock')})\n`,
      );
      expect(await readFile(path.join(dataDir, 'pg.lock'), 'utf8')).toBe('1@another-container');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('create-admin when the database cannot be used', () => {
  it('says so in one line, after DATABASE_CONNECT_ATTEMPTS tries', () => {
    const result = cli(['create-admin', 'someone'], 'a good password\n', {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/parley',
      DATABASE_CONNECT_ATTEMPTS: '1',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('create-admin: cannot reach the database at 127.0.0.1:1/parley (1 attempt): connect ECONNREFUSED 127.0.0.1:1\n');
  });
});

describe('ADMIN_USERNAME and ADMIN_PASSWORD at start-up', () => {
  it('create the admin, or promote an existing user, before the server listens', async () => {
    const fresh = uniqueName('root');
    const existing = await newUser(app, 'existing');
    for (const [username, password] of [
      [fresh, 'fresh password'],
      [existing.username, 'taken over password'],
    ]) {
      const other = await startApp({ ADMIN_USERNAME: username, ADMIN_PASSWORD: password });
      await other.close();
      const login = await loginStatus(username, password);
      expect(login.status).toBe(200);
      expect(await isAdmin(login.body.accessToken)).toBe(true);
    }
    // Whoever held the name before has lost it: its token and its password no longer work.
    expect((await app.http().get('/api/v1/users/me').set(existing.auth)).status).toBe(401);
  });
});
