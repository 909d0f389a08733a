import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { CloseCode } from '../../src/notifications/frames.js';
import { PASSWORD, uniqueName } from '../support/factories.js';
import { startService } from '../support/processes.js';
import { TestSocket } from '../support/ws-client.js';

// The built server as it runs in production (`node dist/src/main.js`); the global setup
// rebuilds dist/ when any source is newer.
const root = path.resolve(import.meta.dirname, '../..');

function runMain(env: Record<string, string>) {
  return spawnSync(process.execPath, ['dist/src/main.js'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('configuration errors stop the process with one line naming the variable', () => {
  it.each([
    [{ NODE_ENV: 'production' }, 'Configuration error: JWT_SECRET is required when NODE_ENV=production'],
    [{ PORT: 'eighty' }, 'Configuration error: PORT must be a whole number, got "eighty"'],
    [{ DATABASE_URL: 'mysql://localhost/parley' }, 'Configuration error: DATABASE_URL must start with postgres:// or postgresql://'],
    [{ LOG_LEVEL: 'loud' }, 'Configuration error: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ ADMIN_USERNAME: 'root' }, 'Configuration error: ADMIN_USERNAME and ADMIN_PASSWORD must be set together'],
  ])('%j', (env, line) => {
    const result = runMain(env);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`${line}\n`);
    expect(result.stdout).toBe('');
  });
});

describe('start-up errors stop the process with one line', () => {
  it('a port in use', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const result = runMain({ DATABASE_URL: inject('databaseUrl'), HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'silent' });
      expect(result.status).toBe(1);
      expect(result.stderr).toBe(`Start-up error: cannot listen on 127.0.0.1:${port}: the port is in use (PORT)\n`);
    } finally {
      taken.close();
    }
  });
});

describe('a database or data directory that cannot be used stops the process with one line', () => {
  it('an unreachable database, tried DATABASE_CONNECT_ATTEMPTS times with a line for each retry', () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const result = runMain({ DATABASE_URL: 'postgres://parley:hunter2@127.0.0.1:1/parley', DATABASE_CONNECT_ATTEMPTS: '2' });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'Database at 127.0.0.1:1/parley not reachable (connect ECONNREFUSED 127.0.0.1:1); retrying in 3 s (attempt 1 of 2)\n' +
        'Start-up error: cannot reach the database at 127.0.0.1:1/parley (2 attempts, 3 s apart): connect ECONNREFUSED 127.0.0.1:1\n',
    );
    expect(result.stdout).toBe('');
  });

  // The embedded server takes any database name: a real PostgreSQL refuses an unknown one.
  it.runIf(process.env.TEST_DATABASE_URL)('a database that answers but refuses: not retried', () => {
    const url = new URL(inject('databaseUrl'));
    url.pathname = '/no_such_database';
    const result = runMain({ DATABASE_URL: url.toString() });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `Start-up error: the database at ${url.hostname}:${url.port || '5432'}/no_such_database refused the connection: ` +
        'database "no_such_database" does not exist\n',
    );
  });

  it.each([
    ['a file', (file: string) => ({ DATA_DIR: file }), (file: string) =>
      `Start-up error: cannot keep the token signing secret in DATA_DIR (${file}): ENOTDIR: not a directory, open '${file}/jwt-secret'\n`],
    ['a directory whose pg is a file', (file: string) => ({ DATA_DIR: path.dirname(file), JWT_SECRET: 'x'.repeat(32) }), (file: string) =>
      `Start-up error: cannot use DATA_DIR (${path.dirname(file)}) for the embedded database: EEXIST: file already exists, mkdir '${file}'\n`],
  ])('DATA_DIR %s', async (_case, env, line) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'parley-data-'));
    const file = path.join(dir, 'pg');
    try {
      await writeFile(file, '');
      const result = runMain(env(file));
      expect(result.status).toBe(1);
      expect(result.stderr).toBe(line(file));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a running server', () => {
  it('logs JSON lines with request ids and no secrets, and shuts down gracefully on SIGTERM', async () => {
    const adminName = uniqueName('admin');
    const adminPassword = 'admin password 7';
    const service = await startService({
      DATABASE_URL: inject('databaseUrl'),
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      ADMIN_USERNAME: adminName,
      ADMIN_PASSWORD: adminPassword,
      // The default (2^17) cost, so that a registration is still hashing when SIGTERM arrives.
      SCRYPT_COST: '131072',
    });
    try {
      const login = await service.http().post('/api/v1/auth/login').set('X-Request-Id', 'test-login-1').send({ username: adminName, password: adminPassword });
      expect(login.status).toBe(200);
      expect(login.headers['x-request-id']).toBe('test-login-1');
      const token = login.body.accessToken as string;
      const generated = await service.http().get('/api/v1/users/me').set('Authorization', `Bearer ${token}`);
      expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      // An admin action logs a line of its own, within the request.
      const patched = await service
        .http()
        .patch(`/api/v1/admin/users/${login.body.user.id}`)
        .set('Authorization', `Bearer ${token}`)
        .set('X-Request-Id', 'test-admin-2')
        .send({ role: 'admin' });
      expect(patched.status).toBe(200);

      const socket = await TestSocket.connect(service.wsUrl, { token });
      const username = uniqueName('late');
      // .then() sends it now (a supertest request is lazy).
      const inFlight = service
        .http()
        .post('/api/v1/auth/register')
        .send({ username, password: PASSWORD })
        .then((response) => ({ status: response.status, at: Date.now() }));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const signalledAt = Date.now();
      service.process.kill('SIGTERM');

      expect(await socket.waitForClose()).toBe(CloseCode.GoingAway);
      // The request that was being served when the signal came is finished, not cut.
      const finished = await inFlight;
      expect(finished.status).toBe(201);
      expect(finished.at).toBeGreaterThan(signalledAt);
      expect(await service.exited).toBe(0);

      const lines = service.output().trim().split('\n');
      const records = lines.map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`not a JSON line: ${line}`);
        }
      });
      const loginLine = records.find((r) => (r.req as { url?: string })?.url === '/api/v1/auth/login');
      expect(loginLine).toMatchObject({ reqId: 'test-login-1', res: { statusCode: 200 }, msg: expect.stringContaining('POST /api/v1/auth/login 200') });
      expect(records.find((r) => r.context === 'AdminUsersService')).toMatchObject({ reqId: 'test-admin-2', level: 30 });
      expect(records.some((r) => r.msg === 'SIGTERM: shutting down')).toBe(true);
      for (const secret of [adminPassword, PASSWORD, token]) expect(service.output()).not.toContain(secret);
      expect(service.output()).not.toMatch(/authorization/i);
    } finally {
      await service.kill('SIGKILL');
    }
  });
});
