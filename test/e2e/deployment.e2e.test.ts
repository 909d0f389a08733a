import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { newDirect, newUser, send } from '../support/factories.js';
import { freePort, startService, type ServiceProcess } from '../support/processes.js';
import { forMessage, TestSocket } from '../support/ws-client.js';

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

/** Binaries .ci/run installs; a developer machine without them skips these checks. */
const has = (binary: string) => ['/usr/bin', '/usr/sbin', '/usr/local/bin'].some((dir) => existsSync(path.join(dir, binary)));
const required = process.env.CI === 'true';

describe.runIf(required || has('docker-compose'))('docker-compose.yml', () => {
  it('is a valid Compose file with PostgreSQL, Redis, two instances and nginx', async () => {
    const { stdout } = await run('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
      cwd: root,
      env: { ...process.env, JWT_SECRET: 'x'.repeat(32) },
    });
    for (const service of ['postgres:', 'redis:', 'parley-1:', 'parley-2:', 'nginx:']) expect(stdout).toContain(service);
    expect(stdout).toContain('REDIS_URL: redis://redis:6379');
  });
});

describe.runIf(required || has('nginx'))('deploy/nginx.conf in front of two instances', () => {
  let instances: ServiceProcess[];
  let nginx: ChildProcess;
  let prefixDir: string;
  let url: string;

  beforeAll(async () => {
    const env = {
      DATABASE_URL: inject('databaseUrl'),
      REDIS_URL: process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379',
      REDIS_CHANNEL_PREFIX: `t${randomBytes(4).toString('hex')}`,
      JWT_SECRET: 'nginx-test-secret-long-enough-000000000',
    };
    instances = await Promise.all([startService(env), startService(env)]);
    // The shipped configuration, with Compose's service names swapped for the test's ports.
    const port = await freePort();
    const site = (await readFile(path.join(root, 'deploy/nginx.conf'), 'utf8'))
      .replace('parley-1:3000', new URL(instances[0].url).host)
      .replace('parley-2:3000', new URL(instances[1].url).host)
      .replace('listen 80;', `listen 127.0.0.1:${port};`);
    prefixDir = await mkdtemp(path.join(tmpdir(), 'parley-nginx-'));
    await writeFile(path.join(prefixDir, 'site.conf'), site);
    await writeFile(
      path.join(prefixDir, 'nginx.conf'),
      `pid ${prefixDir}/nginx.pid;
       error_log ${prefixDir}/error.log warn;
       events { worker_connections 256; }
       http {
         access_log off;
         client_body_temp_path ${prefixDir}; proxy_temp_path ${prefixDir};
         fastcgi_temp_path ${prefixDir}; uwsgi_temp_path ${prefixDir}; scgi_temp_path ${prefixDir};
         include ${prefixDir}/site.conf;
       }`,
    );
    await run('nginx', ['-t', '-p', prefixDir, '-c', `${prefixDir}/nginx.conf`]);
    nginx = spawn('nginx', ['-p', prefixDir, '-c', `${prefixDir}/nginx.conf`, '-g', 'daemon off;'], { stdio: 'ignore' });
    url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 50; i++) {
      if ((await supertest(url).get('/api/v1/users/me').catch(() => undefined))?.status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    nginx?.kill('SIGQUIT');
    await Promise.all(instances?.map((instance) => instance.kill()) ?? []);
    if (prefixDir) await rm(prefixDir, { recursive: true, force: true });
  });

  it('proxies REST and upgrades /ws, whichever instance each request lands on', async () => {
    const proxy = { http: () => supertest.agent(url) } as unknown as TestApp;
    const [alice, bob] = [await newUser(proxy), await newUser(proxy)];
    const conversationId = await newDirect(proxy, alice, bob);
    // Several sockets through the proxy; least_conn spreads them over the instances.
    const sockets = await Promise.all([1, 2, 3, 4].map(() => TestSocket.connect(`${url.replace('http', 'ws')}/ws`, { token: bob.token })));
    const message = await send(proxy, alice, conversationId, 'through nginx');
    for (const socket of sockets) {
      expect(await socket.collect(forMessage(message.id), 400)).toHaveLength(1);
      socket.close();
    }
  });
});
