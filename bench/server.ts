import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { HttpClient, sleep } from './clients.js';

/**
 * The system under test: a throwaway PostgreSQL database and Parley started as in production
 * (`node dist/src/main.js`, NODE_ENV=production) as child processes of the harness.
 */

export const ROOT = path.resolve(import.meta.dirname, '..');
/**
 * The checkout whose build (`dist/src/main.js`) is benchmarked: this one, or BENCH_SERVER_DIR
 * (another checkout, already built), e.g. to compare two versions with the same harness.
 */
export const SERVER_DIR = process.env.BENCH_SERVER_DIR ? path.resolve(process.env.BENCH_SERVER_DIR) : ROOT;
/** Extra node flags for the server alone, e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function databaseUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface BenchDatabase {
  name: string;
  url: string;
  drop: () => Promise<void>;
}

/**
 * Creates `parley_bench_<timestamp>_<pid>[_<suffix>]`; `drop` removes it (forcibly: a dead
 * server may hold sessions).
 */
export async function createDatabase(suffix?: string): Promise<BenchDatabase> {
  const name = `parley_bench_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${process.pid}${suffix ? `_${suffix}` : ''}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  let dropped = false;
  return {
    name,
    url: databaseUrl(name),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ServerInstance {
  name: string;
  port: number;
  pid: number;
  http: HttpClient;
  wsUrl: string;
  logFile: string;
  child: ChildProcess;
  /** VmRSS of the server process in kB. */
  rssKb: () => number;
  /** How the process ended, if it ended without being stopped. */
  unexpectedExit: () => string | undefined;
  stop: () => Promise<void>;
}

export interface ServerSettings {
  databaseUrl: string;
  jwtSecret: string;
  poolSize: number;
  redisUrl?: string;
  /** Extra or overriding environment (the caller's settings for this run). */
  env?: Record<string, string>;
  /** The built checkout to run; SERVER_DIR by default. */
  serverDir?: string;
  /** How long it may take to be ready (migrations on a large database take minutes); 60 s by default. */
  readyWithinMs?: number;
  /** Node flags for this server, after BENCH_SERVER_NODE_ARGS (`--profile` adds `--cpu-prof`). */
  nodeArgs?: string[];
}

/** The server's METRICS_TOKEN: /metrics answers only requests that carry it. */
const METRICS_TOKEN = randomSecret();

/**
 * The environment the server runs with: production, its own port, rate limits far above the
 * load (they stay enabled, so their bookkeeping is still in the path), cheap scrypt (only the
 * token check below registers nobody, but an admin/register path would be usable).
 */
export function serverEnv(settings: ServerSettings, port: number): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: settings.databaseUrl,
    DATABASE_POOL_SIZE: String(settings.poolSize),
    JWT_SECRET: settings.jwtSecret,
    SCRYPT_COST: '1024',
    RATE_LIMIT_SEND_PER_USER: '1000000/1',
    RATE_LIMIT_SEND_PER_ADDRESS: '1000000/1',
    RATE_LIMIT_LOGIN_PER_ADDRESS: '1000000/1',
    RATE_LIMIT_LOGIN_PER_USERNAME: '1000000/1',
    RATE_LIMIT_LOGIN_PER_USERNAME_GLOBAL: '1000000/1',
    RATE_LIMIT_REGISTER_PER_ADDRESS: '1000000/1',
    METRICS_TOKEN,
    ...(settings.redisUrl ? { REDIS_URL: settings.redisUrl } : {}),
    ...settings.env,
  };
}

/**
 * Starts one instance and waits for `GET /health/ready` to answer 200. Its log (JSON lines, as
 * in production) goes straight to a file rather than through the harness, which would cost the
 * harness CPU; `scanLog` reads it afterwards.
 */
export async function startServer(name: string, settings: ServerSettings, logDir: string): Promise<ServerInstance> {
  const port = await freePort();
  const logFile = path.join(logDir, `server-${name}.log.tmp`);
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS, ...(settings.nodeArgs ?? []), 'dist/src/main.js'], {
    cwd: settings.serverDir ?? SERVER_DIR,
    env: serverEnv(settings, port),
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const http = new HttpClient('127.0.0.1', port, 256);
  const deadline = Date.now() + (settings.readyWithinMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server ${name} exited with ${child.exitCode ?? child.signalCode} while starting; log tail:\n${tail(logFile)}`);
    }
    const ready = await http.request('GET', '/health/ready', undefined, undefined, 2000).catch(() => undefined);
    if (ready?.status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server ${name} was not ready within ${(settings.readyWithinMs ?? 60_000) / 1000} s; log tail:\n${tail(logFile)}`);
    }
    await sleep(200);
  }
  let stopped = false;
  // A server that dies mid-run must not look like a slow one: say so at once, with its last words.
  let died: string | undefined;
  void exited.then(() => {
    if (stopped) return;
    died = child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`;
    console.log(`[bench] SERVER ${name} (pid ${child.pid}) DIED UNEXPECTEDLY with ${died}; log tail:\n${tail(logFile, 5)}`);
  });
  return {
    name,
    port,
    pid: child.pid!,
    http,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    logFile,
    child,
    rssKb: () => readRssKb(child.pid!),
    unexpectedExit: () => died,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      http.close();
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function readRssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface LogScan {
  lines: number;
  warnings: number;
  errors: number;
  /** Responses with a 5xx status, as logged per request. */
  responses5xx: number;
  samples: string[];
}

/** Counts warnings, errors and 5xx answers in a server's JSON log (pino: 40 warn, 50 error, 60 fatal). */
export function scanLog(file: string): LogScan {
  const scan: LogScan = { lines: 0, warnings: 0, errors: 0, responses5xx: 0, samples: [] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return scan;
  }
  for (const line of text.split('\n')) {
    if (!line) continue;
    scan.lines++;
    const level = /"level":(\d+)/.exec(line);
    const status = /"statusCode":(\d{3})/.exec(line);
    if (status && Number(status[1]) >= 500) scan.responses5xx++;
    if (!level) continue;
    const value = Number(level[1]);
    if (value >= 50) scan.errors++;
    else if (value >= 40) scan.warnings++;
    else continue;
    if (scan.samples.length < 8) scan.samples.push(line.slice(0, 400));
  }
  return scan;
}

// ---- users and tokens -------------------------------------------------------------------

export interface BenchUser {
  id: string;
  tokenVersion: number;
  /** The session the token names (`sid`): the server checks it is live on every request. */
  sessionId: string;
  token: string;
}

/**
 * Creates `count` users, and a session for each, with one SQL statement (registering thousands
 * through the API would spend minutes in scrypt). They cannot log in (the password hash is not
 * a valid one); they authenticate with tokens minted below, naming their session.
 */
export async function seedUsers(url: string, count: number, jwtSecret: string, ttlSeconds: number): Promise<BenchUser[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; token_version: number; session_id: string }>(
      `WITH users_made AS (
         INSERT INTO users (username, display_name, password_hash)
         SELECT 'bench_' || g, 'Bench user ' || g, '!bench-no-login' FROM generate_series(1, $1::int) AS g
         RETURNING id, token_version
       ), sessions_made AS (
         INSERT INTO sessions (user_id, token_version, user_agent, expires_at)
         SELECT id, token_version, 'bench', now() + make_interval(secs => $2) FROM users_made
         RETURNING id, user_id
       )
       SELECT u.id::text, u.token_version, s.id::text AS session_id FROM users_made u JOIN sessions_made s ON s.user_id = u.id`,
      [count, ttlSeconds],
    );
    rows.sort((a, b) => Number(a.id) - Number(b.id));
    return rows.map((row) => ({
      id: row.id,
      tokenVersion: row.token_version,
      sessionId: row.session_id,
      token: mintToken(jwtSecret, row.id, row.token_version, row.session_id, ttlSeconds),
    }));
  } finally {
    await client.end();
  }
}

/**
 * An access token as the server's JwtModule issues it: HS256 (the only algorithm it verifies),
 * claims `{sub, tv, sid}` plus `iat` and `exp` (jsonwebtoken checks `exp`; the server signs with
 * expiresIn = ACCESS_TOKEN_TTL_SECONDS).
 */
export function mintToken(secret: string, userId: string, tokenVersion: number, sessionId: string, ttlSeconds: number): string {
  const iat = Math.floor(Date.now() / 1000);
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify({ sub: userId, tv: tokenVersion, sid: sessionId, iat, exp: iat + ttlSeconds })).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

export function randomSecret(): string {
  return randomBytes(32).toString('hex');
}

// ---- /metrics ---------------------------------------------------------------------------

export interface MetricsSample {
  /** parley_notification_latency_seconds{type="message.created"}: sum (s) and count. */
  notifySum: number;
  notifyCount: number;
  /** parley_send_batch_size: messages stored (sum) and send statements (count). */
  batchSum: number;
  batchCount: number;
  /** Requests answered with a 5xx, from parley_http_request_duration_seconds_count. */
  http5xx: number;
  wsConnections: number;
  /** parley_presence_announcements_total (all statuses). */
  presenceAnnouncements: number;
  /** parley_typing_frames_total by outcome. */
  typingPassed: number;
  typingLimited: number;
  /** The event loop's delay since the last scrape (prom-client resets it on each), p99 and max, ms. */
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  present: boolean;
}

/** Reads the few series the report uses; absent metrics read as zero with present=false. */
export async function scrapeMetrics(server: ServerInstance): Promise<MetricsSample> {
  const sample: MetricsSample = {
    notifySum: 0,
    notifyCount: 0,
    batchSum: 0,
    batchCount: 0,
    http5xx: 0,
    wsConnections: 0,
    presenceAnnouncements: 0,
    typingPassed: 0,
    typingLimited: 0,
    eventLoopDelayP99Ms: 0,
    eventLoopDelayMaxMs: 0,
    present: false,
  };
  const result = await server.http.request('GET', '/metrics', METRICS_TOKEN).catch(() => undefined);
  if (!result || result.status !== 200 || typeof result.body !== 'string') return sample;
  for (const line of result.body.split('\n')) {
    if (line.startsWith('#')) continue;
    const [series, value] = splitSample(line);
    if (series === undefined) continue;
    if (series.startsWith('parley_notification_latency_seconds_sum') && series.includes('type="message.created"')) {
      sample.notifySum += value;
      sample.present = true;
    } else if (series.startsWith('parley_notification_latency_seconds_count') && series.includes('type="message.created"')) {
      sample.notifyCount += value;
    } else if (series.startsWith('parley_send_batch_size_sum')) {
      sample.batchSum += value;
    } else if (series.startsWith('parley_send_batch_size_count')) {
      sample.batchCount += value;
    } else if (series.startsWith('parley_http_request_duration_seconds_count') && /status_code="5\d\d"/.test(series)) {
      sample.http5xx += value;
    } else if (series.startsWith('parley_ws_connections')) {
      sample.wsConnections += value;
    } else if (series.startsWith('parley_presence_announcements_total')) {
      sample.presenceAnnouncements += value;
    } else if (series.startsWith('parley_typing_frames_total') && series.includes('outcome="passed"')) {
      sample.typingPassed += value;
    } else if (series.startsWith('parley_typing_frames_total') && series.includes('outcome="limited"')) {
      sample.typingLimited += value;
    } else if (series.startsWith('parley_nodejs_eventloop_lag_p99_seconds')) {
      sample.eventLoopDelayP99Ms = value * 1000;
    } else if (series.startsWith('parley_nodejs_eventloop_lag_max_seconds')) {
      sample.eventLoopDelayMaxMs = value * 1000;
    }
  }
  return sample;
}

function splitSample(line: string): [string | undefined, number] {
  const space = line.lastIndexOf(' ');
  if (space <= 0) return [undefined, 0];
  return [line.slice(0, space), Number(line.slice(space + 1))];
}

/** Mean commit→hand-off time in ms between two scrapes, or undefined without the metric. */
export function meanNotifyMs(before: MetricsSample, after: MetricsSample): number | undefined {
  const count = after.notifyCount - before.notifyCount;
  if (!after.present || count <= 0) return undefined;
  return ((after.notifySum - before.notifySum) / count) * 1000;
}

/** Messages per send statement between two scrapes, or undefined without the metric. */
export function meanSendBatch(before: MetricsSample, after: MetricsSample): number | undefined {
  const statements = after.batchCount - before.batchCount;
  return statements > 0 ? (after.batchSum - before.batchSum) / statements : undefined;
}
