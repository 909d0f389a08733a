import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { isLengthBetween } from '../common/text-length.js';

/** Raised when an environment variable is missing or malformed; main.ts prints it as one line. */
export class ConfigError extends Error {}

export interface AppConfig {
  nodeEnv: string;
  port: number;
  host: string;
  /** Unset: run on the embedded PostgreSQL (PGlite) under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  databasePoolSize: number;
  /** How many times to try reaching DATABASE_URL at start, 3 s apart, before giving up. */
  databaseConnectAttempts: number;
  /**
   * How long a statement waits for a lock before PostgreSQL refuses it (0: no limit). A
   * transaction left open elsewhere then costs one conversation's writes a 503, not the pool.
   */
  databaseLockTimeoutMs: number;
  /** How long a statement may run before PostgreSQL cancels it (0: no limit); the request gets 503. */
  databaseStatementTimeoutMs: number;
  /**
   * How long one of Parley's own transactions may sit idle between statements before
   * PostgreSQL ends its session (0: no limit). Its transactions take a millisecond or so; one
   * idle for seconds belongs to an instance that has stalled or lost its network, and its row
   * locks would refuse every other instance's writes to that conversation until it came back.
   */
  databaseIdleInTransactionTimeoutMs: number;
  /**
   * How long a statement may wait with nothing heard from PostgreSQL before its connection is
   * closed and the request answered 503 (0: no limit): a hung server or a network dropping
   * packets, where PostgreSQL's own limits cannot reach the client. Above the statement
   * timeout, so that PostgreSQL's cancellation comes first when it can.
   */
  databaseAnswerTimeoutMs: number;
  redisUrl: string | undefined;
  /** Namespaces Parley's channels, so several installations can share one Redis. */
  redisChannelPrefix: string;
  jwtSecret: string;
  accessTokenTtlSeconds: number;
  /** Unset: any origin may open /ws and call the API from a browser. */
  allowedOrigins: string[] | undefined;
  adminUsername: string | undefined;
  adminPassword: string | undefined;
  /** scrypt cost parameter N (a power of two). 2^17 follows OWASP guidance. */
  scryptCost: number;
  /** Largest frame a client may send on /ws, in bytes. */
  wsMaxFrameBytes: number;
  /** A socket whose unsent data passes this many bytes is a slow consumer and is closed. */
  wsMaxBufferedBytes: number;
  /** Frames a client may send on /ws within one second; past that its socket is closed. */
  wsMaxFramesPerSecond: number;
  wsHeartbeatMs: number;
  /**
   * How often each open socket's user is read again, closing the sockets of users deactivated
   * or revoked by a path that could not reach them (another instance while Redis was down, the
   * CLI, an operator's SQL).
   */
  wsRecheckMs: number;
  /** Open sockets one user may hold on one instance. */
  wsMaxSocketsPerUser: number;
  /** Fastify's trustProxy: which proxies' X-Forwarded-For to believe (for per-address limits). */
  trustProxy: boolean | string | number;
  rateLimits: RateLimits;
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  logLevel: LogLevel;
  /** `json` (one object a line, for collectors) or `pretty` (for people; needs pino-pretty). */
  logFormat: 'json' | 'pretty';
  /** How long a graceful shutdown may take before the process gives up and exits 1. */
  shutdownTimeoutMs: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The same rules as registration: 3–32 of a-z 0-9 _ . - and 8–128 characters. */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/** At most `limit` hits per `windowSeconds`; undefined: no limit. */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

export interface RateLimits {
  loginPerAddress?: RateLimit;
  loginPerUsername?: RateLimit;
  registerPerAddress?: RateLimit;
  sendPerUser?: RateLimit;
  sendPerAddress?: RateLimit;
}

/** `RATE_LIMIT_*` variables: "N/S" (N requests per S seconds) or "off". */
function rateLimit(env: Env, name: string, fallback: string): RateLimit | undefined {
  const raw = (env[name] || fallback).trim();
  if (raw === 'off') return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(raw);
  if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) {
    throw new ConfigError(`${name} must be "N/S" (N requests per S seconds) or "off", got "${raw}"`);
  }
  return { limit: Number(match[1]), windowSeconds: Number(match[2]) };
}

function trustProxy(env: Env): boolean | string | number {
  const raw = env.TRUST_PROXY;
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  // Fastify's own check of a bad entry is a TypeError with a stack, after the database is up.
  if (!raw.split(',').every((entry) => isProxyAddress(entry.trim()))) {
    throw new ConfigError(
      `TRUST_PROXY must be true, false, a hop count or a comma-separated list of proxy addresses (IPs, CIDRs, loopback, linklocal, uniquelocal), got "${raw}"`,
    );
  }
  return raw;
}

/** What Fastify (proxy-addr) takes as a trusted proxy: an IP, a CIDR, an IP/netmask or a named range. */
function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, range, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (range === undefined) return true;
  if (/^\d{1,3}$/.test(range)) return Number(range) <= (version === 4 ? 32 : 128);
  return version === 4 && isIP(range) === 4;
}

export const APP_CONFIG = Symbol('APP_CONFIG');

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/**
 * DATABASE_ANSWER_TIMEOUT_MS: by default 10 s past the statement timeout, or none with that
 * lifted (statements may then run as long as they like, and no answer comes meanwhile).
 */
function answerTimeout(env: Env, statementTimeoutMs: number): number {
  const fallback = statementTimeoutMs > 0 ? statementTimeoutMs + 10_000 : 0;
  const value = integer(env, 'DATABASE_ANSWER_TIMEOUT_MS', fallback, 0, 3_600_000);
  if (value > 0 && statementTimeoutMs > 0 && value <= statementTimeoutMs) {
    throw new ConfigError('DATABASE_ANSWER_TIMEOUT_MS must be above DATABASE_STATEMENT_TIMEOUT_MS (or 0)');
  }
  return value;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw;
}

function origins(env: Env): string[] | undefined {
  const raw = env.ALLOWED_ORIGINS;
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw.split(',').map((origin) => {
    const trimmed = origin.trim().replace(/\/+$/, '');
    const url = URL.canParse(trimmed) ? new URL(trimmed) : undefined;
    // `localhost:3000` parses too, as a URL of scheme "localhost:" whose origin is "null": the
    // very origin of sandboxed frames and file:// pages, which would then be let in.
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new ConfigError(`ALLOWED_ORIGINS has an invalid origin "${trimmed}" (give scheme and host, e.g. https://chat.example.com)`);
    }
    return url.origin;
  });
}

function channelPrefix(env: Env): string {
  const prefix = env.REDIS_CHANNEL_PREFIX || 'parley';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new ConfigError('REDIS_CHANNEL_PREFIX must be 1–64 of A-Z a-z 0-9 _ . -');
  }
  return prefix;
}

function logLevel(env: Env, nodeEnv: string): LogLevel {
  const raw = env.LOG_LEVEL;
  // Tests keep quiet unless something is wrong.
  if (raw === undefined || raw === '') return nodeEnv === 'test' ? 'warn' : 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  }
  return raw as LogLevel;
}

function logFormat(env: Env, nodeEnv: string): 'json' | 'pretty' {
  const raw = env.LOG_FORMAT;
  if (raw === undefined || raw === '') return nodeEnv === 'development' ? 'pretty' : 'json';
  if (raw !== 'json' && raw !== 'pretty') throw new ConfigError(`LOG_FORMAT must be json or pretty, got "${raw}"`);
  return raw;
}

/** Reads and validates the whole configuration once, at start-up. */
export function loadConfig(env: Env = process.env): AppConfig {
  const nodeEnv = env.NODE_ENV || 'development';
  const production = nodeEnv === 'production';

  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  let jwtSecret = env.JWT_SECRET;
  if (!jwtSecret) {
    if (production) throw new ConfigError('JWT_SECRET is required when NODE_ENV=production');
    // Instances sharing Redis serve the same users: with a secret each, a token from one is
    // refused by the next (users signed out at random behind a load balancer).
    if (redisUrl) throw new ConfigError('JWT_SECRET is required when REDIS_URL is set (every instance must share it)');
    // Development only: tokens stop working when the process restarts (on the embedded
    // database, main.ts keeps one in DATA_DIR instead: keptJwtSecret).
    jwtSecret = randomBytes(32).toString('hex');
  } else if (production && jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 characters when NODE_ENV=production');
  }

  const scryptCost = integer(env, 'SCRYPT_COST', 2 ** 17, 2 ** 10, 2 ** 20);
  if ((scryptCost & (scryptCost - 1)) !== 0) throw new ConfigError('SCRYPT_COST must be a power of two');

  const adminUsername = env.ADMIN_USERNAME || undefined;
  const adminPassword = env.ADMIN_PASSWORD || undefined;
  if (Boolean(adminUsername) !== Boolean(adminPassword)) {
    throw new ConfigError('ADMIN_USERNAME and ADMIN_PASSWORD must be set together');
  }
  if (adminUsername && !USERNAME_PATTERN.test(adminUsername)) {
    throw new ConfigError('ADMIN_USERNAME must be 3–32 characters of a-z 0-9 _ . -');
  }
  if (adminPassword && !isLengthBetween(adminPassword, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH)) {
    throw new ConfigError(`ADMIN_PASSWORD must be ${PASSWORD_MIN_LENGTH}–${PASSWORD_MAX_LENGTH} characters`);
  }

  const databaseStatementTimeoutMs = integer(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 30_000, 0, 3_600_000);

  return {
    nodeEnv,
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: env.HOST || '0.0.0.0',
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: env.DATA_DIR || './data',
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 200),
    databaseConnectAttempts: integer(env, 'DATABASE_CONNECT_ATTEMPTS', 10, 1, 1000),
    databaseLockTimeoutMs: integer(env, 'DATABASE_LOCK_TIMEOUT_MS', 2000, 0, 600_000),
    databaseStatementTimeoutMs,
    databaseIdleInTransactionTimeoutMs: integer(env, 'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS', 10_000, 0, 3_600_000),
    databaseAnswerTimeoutMs: answerTimeout(env, databaseStatementTimeoutMs),
    redisUrl,
    redisChannelPrefix: channelPrefix(env),
    jwtSecret,
    accessTokenTtlSeconds: integer(env, 'ACCESS_TOKEN_TTL_SECONDS', 12 * 3600, 60, 30 * 24 * 3600),
    allowedOrigins: origins(env),
    adminUsername,
    adminPassword,
    scryptCost,
    wsMaxFrameBytes: integer(env, 'WS_MAX_FRAME_BYTES', 4096, 128, 1 << 20),
    wsMaxBufferedBytes: integer(env, 'WS_MAX_BUFFERED_BYTES', 1 << 20, 1024, 1 << 30),
    wsMaxFramesPerSecond: integer(env, 'WS_MAX_FRAMES_PER_SECOND', 20, 1, 1_000_000),
    wsHeartbeatMs: integer(env, 'WS_HEARTBEAT_MS', 30_000, 1000, 600_000),
    wsRecheckMs: integer(env, 'WS_RECHECK_MS', 60_000, 1000, 3_600_000),
    wsMaxSocketsPerUser: integer(env, 'WS_MAX_SOCKETS_PER_USER', 20, 1, 10_000),
    trustProxy: trustProxy(env),
    rateLimits: {
      loginPerAddress: rateLimit(env, 'RATE_LIMIT_LOGIN_PER_ADDRESS', '20/60'),
      loginPerUsername: rateLimit(env, 'RATE_LIMIT_LOGIN_PER_USERNAME', '10/60'),
      registerPerAddress: rateLimit(env, 'RATE_LIMIT_REGISTER_PER_ADDRESS', '20/3600'),
      sendPerUser: rateLimit(env, 'RATE_LIMIT_SEND_PER_USER', '60/10'),
      sendPerAddress: rateLimit(env, 'RATE_LIMIT_SEND_PER_ADDRESS', '600/10'),
    },
    logLevel: logLevel(env, nodeEnv),
    logFormat: logFormat(env, nodeEnv),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
  };
}
