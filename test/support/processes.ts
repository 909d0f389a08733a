import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import path from 'node:path';
import supertest from 'supertest';
import { NO_RATE_LIMITS, DELIVERIES_FOR_TESTS } from './app.js';

const root = path.resolve(import.meta.dirname, '../..');

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

export interface ServiceProcess {
  url: string;
  wsUrl: string;
  http: () => supertest.Agent;
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  kill: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/**
 * Starts the built service (`node dist/src/main.js`, as in production) as its own process, on
 * a free port, or on `env.PORT` (a service restarted where its clients expect it).
 */
export async function startService(env: Record<string, string>): Promise<ServiceProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', HOST: '127.0.0.1', PORT: String(port), SCRYPT_COST: '1024', ...NO_RATE_LIMITS, ...DELIVERIES_FOR_TESTS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const url = `http://127.0.0.1:${port}`;
  const http = () => supertest.agent(url);
  try {
    await Promise.race([
      waitUntil(async () => (await http().get('/api/v1/users/me')).status === 401, `the service on ${port}`),
      exited.then((code) => {
        throw new Error(`the service exited with ${code}:\n${output}`);
      }),
    ]);
  } catch (error) {
    // A service that did not come up in time must not outlive the test that started it.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    http,
    process: child,
    output: () => output,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface RedisProcess {
  url: string;
  port: number;
  stop: () => Promise<void>;
}

/** Whether `redis-server` is installed, for the tests that start a Redis of their own. */
export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** A Redis of the test's own on its own port, so the test can stop and restart it. */
export async function startRedis(port?: number): Promise<RedisProcess> {
  const redisPort = port ?? (await freePort());
  const child = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitUntil(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = new Socket();
        socket.once('error', () => resolve(false));
        socket.connect(redisPort, '127.0.0.1', () => {
          socket.write('PING\r\n');
          socket.once('data', (data) => {
            socket.destroy();
            resolve(data.toString().startsWith('+PONG'));
          });
        });
      }),
    `redis on ${redisPort}`,
  );
  return {
    url: `redis://127.0.0.1:${redisPort}`,
    port: redisPort,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
