import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
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
  /**
   * Send statements that may run at once, over disjoint conversations (sends into one
   * conversation always wait for the statement before them).
   */
  sendBatchesInFlight: number;
  /** Unset: no trace. A file to which every send's timeline is appended as a JSON line (SendTrace). */
  sendTraceFile: string | undefined;
  redisUrl: string | undefined;
  /**
   * Instead of `redisUrl`: some nodes of a Redis Cluster (7 or newer), from which the client
   * learns the rest. Fan-out then uses sharded pub/sub, spread over the cluster's shards.
   */
  redisClusterNodes: RedisNode[] | undefined;
  /** Namespaces Parley's channels, so several installations can share one Redis. */
  redisChannelPrefix: string;
  jwtSecret: string;
  /**
   * How long an access token (and a socket opened with it) lives. Clients renew it with their
   * refresh token; as low as 5 s, so that tests can watch tokens expire.
   */
  accessTokenTtlSeconds: number;
  /**
   * How long a session may go unused before its refresh token stops working (each refresh
   * starts the period again); the user then logs in again.
   */
  refreshTokenTtlSeconds: number;
  /** Unset: any origin may open /ws and call the API from a browser. */
  allowedOrigins: string[] | undefined;
  adminUsername: string | undefined;
  adminPassword: string | undefined;
  /** scrypt cost parameter N (a power of two). 2^17 follows OWASP guidance. */
  scryptCost: number;
  /**
   * Worker threads that hash passwords, a hash at a time each: their own pool, so that logins
   * never hold up libuv's thread pool, which reads files and writes the logs. By default one
   * fewer than the cores (at least one), leaving a core for the event loop. Each thread uses
   * 128 * N * 8 bytes while it hashes (128 MiB at N=2^17).
   */
  passwordHashThreads: number;
  /**
   * Hashes that may wait for a thread; a login or registration past that is answered 503 with
   * Retry-After at once. By default four per thread at N=2^17 (a wait of a few seconds),
   * scaled inversely with SCRYPT_COST.
   */
  passwordHashQueue: number;
  /** Largest frame a client may send on /ws, in bytes. */
  wsMaxFrameBytes: number;
  /**
   * A socket whose unsent data passes this many bytes is a slow consumer and is closed: every
   * byte the server owes it counts (notifications, pongs to its pings, the heartbeat's pings).
   */
  wsMaxBufferedBytes: number;
  /**
   * Frames a client may send on /ws within one second, of any kind (text, binary, ping and
   * pong control frames); past that its socket is closed.
   */
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
  /**
   * How long a user whose last socket closed still counts as online before `offline` is
   * announced: a reload or a reconnect within it shows no flicker.
   */
  presenceOfflineGraceMs: number;
  /**
   * How often each instance tells Redis it is alive; an instance silent for three of these is
   * taken for dead and its sockets stop counting toward its users' presence.
   */
  presenceHeartbeatMs: number;
  /** Fastify's trustProxy: which proxies' X-Forwarded-For to believe (for per-address limits). */
  trustProxy: boolean | string | number;
  rateLimits: RateLimits;
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  logLevel: LogLevel;
  /** `json` (one object a line, for collectors) or `pretty` (for people; needs pino-pretty). */
  logFormat: 'json' | 'pretty';
  /** How long a graceful shutdown may take before the process gives up and exits 1. */
  shutdownTimeoutMs: number;
  /**
   * Set: `/metrics` answers only requests with `Authorization: Bearer <metricsToken>`, on the
   * main port and on METRICS_PORT alike. Unset, the main port answers `/metrics` with 404.
   */
  metricsToken: string | undefined;
  /**
   * Set: a second HTTP listener serving `/metrics` alone, on `metricsHost`, kept off the public
   * port (0: a free port, chosen at start and logged).
   */
  metricsPort: number | undefined;
  /** The address the metrics listener binds; loopback unless a scraper on another host needs it. */
  metricsHost: string;
  /** Largest upload, in bytes; a larger one is answered 413 as soon as it passes this. */
  attachmentMaxBytes: number;
  /** Storage one user's attachments may take (attached or not yet), in bytes; past it uploads get 413. */
  attachmentQuotaBytes: number;
  /**
   * Largest image, in pixels (width × height), that is decoded for its dimensions and
   * thumbnail. A larger one is refused (400) from its header alone: a PNG of a few KB can
   * declare 50,000 × 50,000 pixels, 2.5 GB once decoded.
   */
  attachmentMaxImagePixels: number;
  /**
   * Images decoded at once (thumbnails, metadata stripping), each on one of libuv's threads:
   * uploads queue for them rather than take every core from requests and notifications.
   */
  attachmentImageConcurrency: number;
  /** Re-encode uploaded images that carry EXIF or XMP metadata (camera, GPS location) without it. */
  attachmentStripMetadata: boolean;
  /** How often the cleanup job runs (on one instance at a time): expired uploads, removed files. */
  attachmentCleanupIntervalMs: number;
  /** The local directory of attachments (when no S3 bucket is set). */
  storageDir: string;
  /** Set: attachments are kept in this S3 bucket instead of `storageDir`. */
  s3Bucket: string | undefined;
  /** An S3-compatible endpoint (MinIO, Ceph, R2); unset: AWS's own for the region. */
  s3Endpoint: string | undefined;
  s3Region: string;
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO and most self-hosted stores need. */
  s3ForcePathStyle: boolean;
  /** Answer `content` and `thumbnail` with a redirect to a presigned URL of the bucket instead of streaming the bytes through. */
  s3RedirectDownloads: boolean;
  /** Webhook URLs may be `http` too (development, tests); otherwise only `https`. */
  webhookAllowHttp: boolean;
  /**
   * Webhook URLs may resolve to loopback, private, link-local or other non-public addresses
   * (development, tests); otherwise they are refused, at registration and at every delivery.
   */
  webhookAllowPrivate: boolean;
  /**
   * The jobs of the durable queue this instance runs (webhook deliveries, pushes): all of them,
   * none (an instance that only serves requests), or those named.
   */
  jobQueueTasks: 'all' | string[];
  /** Web Push identity (VAPID, URL-safe base64); unset, generated once and kept in DATA_DIR. */
  vapidPublicKey: string | undefined;
  vapidPrivateKey: string | undefined;
  /** The contact push services see in the VAPID token: a `mailto:` or `https:` URL. */
  vapidSubject: string;
}

/** A node of a Redis Cluster (REDIS_CLUSTER_NODES). */
export interface RedisNode {
  host: string;
  port: number;
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
  /** Per (username, address): guessing one user's password from one address. */
  loginPerUsername?: RateLimit;
  /** Per username from all addresses together: guessing spread over many addresses. */
  loginPerUsernameGlobal?: RateLimit;
  registerPerAddress?: RateLimit;
  refreshPerAddress?: RateLimit;
  sendPerUser?: RateLimit;
  sendPerAddress?: RateLimit;
}

export const APP_CONFIG = Symbol('APP_CONFIG');

type Env = Record<string, string | undefined>;

/** Where a variable's value goes in AppConfig (a rate limit goes into `rateLimits`). */
export type ConfigKey = Exclude<keyof AppConfig, 'rateLimits'> | `rateLimits.${keyof RateLimits}`;
type ValueAt<K extends ConfigKey> = K extends `rateLimits.${infer R extends keyof RateLimits}`
  ? RateLimits[R]
  : K extends keyof AppConfig
    ? AppConfig[K]
    : never;

/** The configuration being read: every variable listed above the one being parsed is in it. */
export type ConfigDraft = Partial<AppConfig> & { rateLimits: RateLimits };

/**
 * One environment variable. `docs/configuration.md`'s table is generated from these entries
 * (`npm run docs:config`), so what an operator reads is what `loadConfig` does.
 */
export interface ConfigVariable<K extends ConfigKey = ConfigKey> {
  name: string;
  key: K;
  /** The default as an operator reads it (Markdown). */
  default: string;
  /** One line for operators: what the variable changes (Markdown). */
  description: string;
  /**
   * Reads and validates the value (`raw` is undefined when the variable is unset or empty),
   * throwing ConfigError with a message that names the variable. `config` holds the variables
   * listed above this one.
   */
  parse: (raw: string | undefined, name: string, config: ConfigDraft) => ValueAt<K>;
}

function variable<K extends ConfigKey>(entry: ConfigVariable<K>): ConfigVariable<K> {
  return entry;
}

// Parsers shared by several variables.

function text(fallback: string) {
  return (raw: string | undefined): string => raw ?? fallback;
}

function integer(fallback: number, min: number, max: number) {
  return (raw: string | undefined, name: string): number => {
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
    const value = Number(raw);
    if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
    return value;
  };
}

function url(protocols: string[]) {
  return (raw: string | undefined, name: string): string | undefined => {
    if (raw === undefined) return undefined;
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
  };
}

/** `RATE_LIMIT_*` variables: "N/S" (N requests per S seconds) or "off". */
function rateLimit(fallback: string) {
  return (value: string | undefined, name: string): RateLimit | undefined => {
    const raw = (value ?? fallback).trim();
    if (raw === 'off') return undefined;
    const match = /^(\d+)\/(\d+)$/.exec(raw);
    if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) {
      throw new ConfigError(`${name} must be "N/S" (N requests per S seconds) or "off", got "${raw}"`);
    }
    return { limit: Number(match[1]), windowSeconds: Number(match[2]) };
  };
}

// Parsers of one variable each.

function boolean(fallback: boolean) {
  return (raw: string | undefined, name: string): boolean => {
    if (raw === undefined) return fallback;
    if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be true or false, got "${raw}"`);
    return raw === 'true';
  };
}

const JOB_QUEUE_TASK_NAMES = ['webhook', 'push'];

function jobQueueTasks(raw: string | undefined, name: string): 'all' | string[] {
  if (raw === undefined || raw === 'all') return 'all';
  if (raw === 'none') return [];
  const tasks = raw.split(',').map((task) => task.trim());
  const unknown = tasks.find((task) => !JOB_QUEUE_TASK_NAMES.includes(task));
  if (unknown !== undefined) throw new ConfigError(`${name} must be all, none, or a list of ${JOB_QUEUE_TASK_NAMES.join(', ')}; got "${unknown}"`);
  return tasks;
}

/** A VAPID key of `bytes` bytes, URL-safe base64; both or neither of the pair (checked at start-up). */
function vapidKey(bytes: number) {
  return (raw: string | undefined, name: string): string | undefined => {
    if (raw === undefined) return undefined;
    if (!/^[A-Za-z0-9_-]+$/.test(raw) || Buffer.from(raw, 'base64url').length !== bytes) {
      throw new ConfigError(`${name} must be ${bytes} bytes in URL-safe base64`);
    }
    return raw;
  };
}

function jwtSecret(raw: string | undefined, name: string, config: ConfigDraft): string {
  const production = config.nodeEnv === 'production';
  if (raw === undefined) {
    if (production) throw new ConfigError('JWT_SECRET is required when NODE_ENV=production');
    // Instances sharing Redis serve the same users: with a secret each, a token from one is
    // refused by the next (users signed out at random behind a load balancer).
    const shared = config.redisUrl ? 'REDIS_URL' : config.redisClusterNodes ? 'REDIS_CLUSTER_NODES' : undefined;
    if (shared) throw new ConfigError(`JWT_SECRET is required when ${shared} is set (every instance must share it)`);
    // Development only: tokens stop working when the process restarts (on the embedded
    // database, main.ts keeps one in DATA_DIR instead: keptJwtSecret).
    return randomBytes(32).toString('hex');
  }
  if (production && raw.length < 32) throw new ConfigError('JWT_SECRET must be at least 32 characters when NODE_ENV=production');
  return raw;
}

/**
 * DATABASE_ANSWER_TIMEOUT_MS: by default 10 s past the statement timeout, or none with that
 * lifted (statements may then run as long as they like, and no answer comes meanwhile).
 */
function answerTimeout(raw: string | undefined, name: string, config: ConfigDraft): number {
  const statementTimeoutMs = config.databaseStatementTimeoutMs ?? 0;
  const fallback = statementTimeoutMs > 0 ? statementTimeoutMs + 10_000 : 0;
  const value = integer(fallback, 0, 3_600_000)(raw, name);
  if (value > 0 && statementTimeoutMs > 0 && value <= statementTimeoutMs) {
    throw new ConfigError('DATABASE_ANSWER_TIMEOUT_MS must be above DATABASE_STATEMENT_TIMEOUT_MS (or 0)');
  }
  return value;
}

/** REDIS_CLUSTER_NODES: `host:port` (or `[IPv6]:port`), comma-separated; not with REDIS_URL. */
function clusterNodes(raw: string | undefined, name: string, config: ConfigDraft): RedisNode[] | undefined {
  if (raw === undefined) return undefined;
  if (config.redisUrl) {
    throw new ConfigError(`REDIS_URL and ${name} are exclusive: set REDIS_URL for one Redis, or ${name} for a Redis Cluster`);
  }
  return raw.split(',').map((entry) => {
    const trimmed = entry.trim();
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(trimmed);
    const host = match?.[1] ?? match?.[2];
    const port = Number(match?.[3]);
    if (!host || (match?.[1] !== undefined && isIP(host) !== 6) || port < 1 || port > 65535) {
      throw new ConfigError(`${name} must be a comma-separated list of host:port, got "${trimmed}"`);
    }
    return { host, port };
  });
}

function channelPrefix(raw: string | undefined): string {
  const prefix = raw ?? 'parley';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new ConfigError('REDIS_CHANNEL_PREFIX must be 1–64 of A-Z a-z 0-9 _ . -');
  }
  return prefix;
}

function origins(raw: string | undefined): string[] | undefined {
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

function scryptCost(raw: string | undefined, name: string): number {
  const cost = integer(2 ** 17, 2 ** 10, 2 ** 20)(raw, name);
  if ((cost & (cost - 1)) !== 0) throw new ConfigError('SCRYPT_COST must be a power of two');
  return cost;
}

function trustProxy(raw: string | undefined): boolean | string | number {
  if (raw === undefined || raw === 'false') return false;
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

function adminUsername(raw: string | undefined): string | undefined {
  if (raw !== undefined && !USERNAME_PATTERN.test(raw)) {
    throw new ConfigError('ADMIN_USERNAME must be 3–32 characters of a-z 0-9 _ . -');
  }
  return raw;
}

function adminPassword(raw: string | undefined, name: string, config: ConfigDraft): string | undefined {
  if (Boolean(config.adminUsername) !== Boolean(raw)) {
    throw new ConfigError('ADMIN_USERNAME and ADMIN_PASSWORD must be set together');
  }
  if (raw !== undefined && !isLengthBetween(raw, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH)) {
    throw new ConfigError(`ADMIN_PASSWORD must be ${PASSWORD_MIN_LENGTH}–${PASSWORD_MAX_LENGTH} characters`);
  }
  return raw;
}

function logLevel(raw: string | undefined, name: string, config: ConfigDraft): LogLevel {
  // Tests keep quiet unless something is wrong.
  if (raw === undefined) return config.nodeEnv === 'test' ? 'warn' : 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  }
  return raw as LogLevel;
}

function logFormat(raw: string | undefined, name: string, config: ConfigDraft): 'json' | 'pretty' {
  if (raw === undefined) return config.nodeEnv === 'development' ? 'pretty' : 'json';
  if (raw !== 'json' && raw !== 'pretty') throw new ConfigError(`LOG_FORMAT must be json or pretty, got "${raw}"`);
  return raw;
}

/** Long enough not to be guessed: the counts it guards tell an attacker what works (429s, failed logins). */
const METRICS_TOKEN_MIN_LENGTH = 16;

function metricsToken(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.length < METRICS_TOKEN_MIN_LENGTH || !/^[\x21-\x7e]+$/.test(raw)) {
    throw new ConfigError(`METRICS_TOKEN must be at least ${METRICS_TOKEN_MIN_LENGTH} printable ASCII characters without spaces`);
  }
  return raw;
}

function s3Bucket(raw: string | undefined): string | undefined {
  // The rules of S3 bucket names (3–63 of a-z 0-9 . -), which other stores share.
  if (raw !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(raw)) {
    throw new ConfigError(`S3_BUCKET must be a bucket name (3–63 of a-z 0-9 . -), got "${raw}"`);
  }
  return raw;
}

function onlyWithS3<T>(parse: (raw: string | undefined, name: string) => T) {
  return (raw: string | undefined, name: string, config: ConfigDraft): T => {
    if (raw !== undefined && !config.s3Bucket) throw new ConfigError(`${name} needs S3_BUCKET`);
    return parse(raw, name);
  };
}

function metricsPort(raw: string | undefined, name: string, config: ConfigDraft): number | undefined {
  if (raw === undefined) return undefined;
  const value = integer(0, 0, 65535)(raw, name);
  if (value !== 0 && value === config.port) throw new ConfigError('METRICS_PORT must differ from PORT');
  return value;
}

/**
 * Every environment variable Parley reads, in the order they are read (a variable's parser may
 * look at those above it) and documented. To add one: a field in AppConfig and an entry here,
 * then `npm run docs:config`.
 */
export const CONFIG_VARIABLES = [
  variable({
    name: 'NODE_ENV',
    key: 'nodeEnv',
    default: '`development`',
    description: '`production` requires a strong `JWT_SECRET`; sets the log defaults (`LOG_LEVEL`, `LOG_FORMAT`)',
    parse: text('development'),
  }),
  variable({ name: 'PORT', key: 'port', default: '`3000`', description: 'TCP port for HTTP and `/ws`', parse: integer(3000, 0, 65535) }),
  variable({ name: 'HOST', key: 'host', default: '`0.0.0.0`', description: 'address HTTP and `/ws` listen on', parse: text('0.0.0.0') }),
  variable({
    name: 'DATABASE_URL',
    key: 'databaseUrl',
    default: 'unset: embedded PostgreSQL under `DATA_DIR`',
    description: 'PostgreSQL (13 or newer) connection string, `postgres://` or `postgresql://`',
    parse: url(['postgres:', 'postgresql:']),
  }),
  variable({
    name: 'DATA_DIR',
    key: 'dataDir',
    default: '`./data`',
    description: "where the embedded PostgreSQL keeps its files (and, without `JWT_SECRET`, the signing secret)",
    parse: text('./data'),
  }),
  variable({
    name: 'DATABASE_POOL_SIZE',
    key: 'databasePoolSize',
    default: '`10`',
    description: 'database connections per instance',
    parse: integer(10, 1, 200),
  }),
  variable({
    name: 'DATABASE_CONNECT_ATTEMPTS',
    key: 'databaseConnectAttempts',
    default: '`10`',
    description: 'tries to reach the database at start, 3 s apart; then (or at once if PostgreSQL refuses) exit 1',
    parse: integer(10, 1, 1000),
  }),
  variable({
    name: 'DATABASE_LOCK_TIMEOUT_MS',
    key: 'databaseLockTimeoutMs',
    default: '`2000`',
    description: 'longest a statement waits for a lock before the request gets 503 (`0`: no limit; not for migrations)',
    parse: integer(2000, 0, 600_000),
  }),
  variable({
    name: 'DATABASE_STATEMENT_TIMEOUT_MS',
    key: 'databaseStatementTimeoutMs',
    default: '`30000`',
    description: 'longest a statement may run before it is cancelled and the request gets 503 (`0`: no limit; not for migrations)',
    parse: integer(30_000, 0, 3_600_000),
  }),
  variable({
    name: 'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS',
    key: 'databaseIdleInTransactionTimeoutMs',
    default: '`10000`',
    description: "longest one of Parley's transactions may sit idle before PostgreSQL ends it and frees its locks (`0`: no limit)",
    parse: integer(10_000, 0, 3_600_000),
  }),
  variable({
    name: 'DATABASE_ANSWER_TIMEOUT_MS',
    key: 'databaseAnswerTimeoutMs',
    default: 'statement timeout + `10000` (`0` if that is `0`)',
    description: 'longest a statement waits with nothing heard from PostgreSQL before its connection is closed and the request gets 503 (`0`: no limit)',
    parse: answerTimeout,
  }),
  variable({
    name: 'SEND_BATCHES_IN_FLIGHT',
    key: 'sendBatchesInFlight',
    default: '`1`',
    description: 'send statements running at once per instance, each over conversations the others do not touch; another starts only once 32 sends wait (docs/performance.md)',
    parse: integer(1, 1, 16),
  }),
  variable({
    name: 'SEND_TRACE_FILE',
    key: 'sendTraceFile',
    default: 'unset: off',
    description: "a file to append each send's timeline to, one JSON line per send (arrival, batch, statement, reply, frames); for measuring, not for production",
    parse: (raw: string | undefined) => raw,
  }),
  variable({
    name: 'REDIS_URL',
    key: 'redisUrl',
    default: 'unset: in-process fan-out (one instance)',
    description: 'Redis for notifications across instances and shared rate-limit counts, `redis://` or `rediss://`',
    parse: url(['redis:', 'rediss:']),
  }),
  variable({
    name: 'REDIS_CLUSTER_NODES',
    key: 'redisClusterNodes',
    default: 'unset',
    description:
      'instead of `REDIS_URL`: a Redis Cluster (Redis 7+) for the same, as comma-separated `host:port` of some of its nodes; notifications then use sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`), spread over its shards',
    parse: clusterNodes,
  }),
  variable({
    name: 'REDIS_CHANNEL_PREFIX',
    key: 'redisChannelPrefix',
    default: '`parley`',
    description: "prefix of Parley's Redis channels and keys, so several installations can share one Redis (or Redis Cluster)",
    parse: channelPrefix,
  }),
  variable({
    name: 'JWT_SECRET',
    key: 'jwtSecret',
    default: 'required with `NODE_ENV=production`, `REDIS_URL` or `REDIS_CLUSTER_NODES`; else kept in `DATA_DIR/jwt-secret` (embedded database) or random per start',
    description: 'token signing secret, the same on every instance (32+ characters in production)',
    parse: jwtSecret,
  }),
  variable({
    name: 'ACCESS_TOKEN_TTL_SECONDS',
    key: 'accessTokenTtlSeconds',
    default: '`43200` (12 h)',
    description: 'access token lifetime (and so of a socket that does not renew it with an `auth` frame), 5 s to 30 days',
    parse: integer(12 * 3600, 5, 30 * 24 * 3600),
  }),
  variable({
    name: 'REFRESH_TOKEN_TTL_SECONDS',
    key: 'refreshTokenTtlSeconds',
    default: '`2592000` (30 days)',
    description: 'how long a session may go unused before its refresh token stops working (each refresh restarts it), 60 s to 365 days',
    parse: integer(30 * 24 * 3600, 60, 365 * 24 * 3600),
  }),
  variable({
    name: 'ALLOWED_ORIGINS',
    key: 'allowedOrigins',
    default: 'unset: any origin',
    description: 'comma-separated origins allowed to open `/ws` and to call the API from a browser',
    parse: origins,
  }),
  variable({
    name: 'SCRYPT_COST',
    key: 'scryptCost',
    default: '`131072` (2^17)',
    description: 'scrypt N for new password hashes, a power of two',
    parse: scryptCost,
  }),
  variable({
    name: 'PASSWORD_HASH_THREADS',
    key: 'passwordHashThreads',
    default: 'CPUs the process may use − 1 (at least `1`)',
    description:
      'worker threads hashing passwords for login and registration, at a lower CPU priority than requests and apart from the thread pool of file and log I/O; each uses 128 MiB at the default cost while it hashes',
    parse: integer(Math.max(1, availableParallelism() - 1), 1, 256),
  }),
  variable({
    name: 'PASSWORD_HASH_QUEUE',
    key: 'passwordHashQueue',
    default: '4 × threads at the default `SCRYPT_COST` (about 2.5 s of waiting), halved for each doubling of the cost, at least `1`',
    description: 'hashes that may wait for a hashing thread; a login or registration past that gets 503 with `Retry-After` at once instead of waiting',
    parse: (raw, name, config) =>
      integer(Math.max(1, Math.round((4 * config.passwordHashThreads! * 2 ** 17) / config.scryptCost!)), 1, 100_000)(raw, name),
  }),
  variable({
    name: 'WS_MAX_FRAME_BYTES',
    key: 'wsMaxFrameBytes',
    default: '`4096`',
    description: 'largest frame a client may send; a larger one closes its socket (1009)',
    parse: integer(4096, 128, 1 << 20),
  }),
  variable({
    name: 'WS_MAX_BUFFERED_BYTES',
    key: 'wsMaxBufferedBytes',
    default: '`1048576`',
    description:
      'unsent bytes the server may hold for one socket before closing it as a slow consumer (4408); everything owed counts: notifications, pongs to its pings, heartbeat pings',
    parse: integer(1 << 20, 1024, 1 << 30),
  }),
  variable({
    name: 'WS_MAX_FRAMES_PER_SECOND',
    key: 'wsMaxFramesPerSecond',
    default: '`20`',
    description: 'frames of any kind (text, binary, ping and pong control frames) a client may send within a second before its socket is closed (1008)',
    parse: integer(20, 1, 1_000_000),
  }),
  variable({
    name: 'WS_HEARTBEAT_MS',
    key: 'wsHeartbeatMs',
    default: '`30000`',
    description: 'how often the server pings sockets, dropping those that stopped answering',
    parse: integer(30_000, 1000, 600_000),
  }),
  variable({
    name: 'WS_RECHECK_MS',
    key: 'wsRecheckMs',
    default: '`60000`',
    description: "how often each instance re-reads its sockets' users and sessions, and closes (4401) those deactivated, revoked or ended",
    parse: integer(60_000, 1000, 3_600_000),
  }),
  variable({
    name: 'WS_MAX_SOCKETS_PER_USER',
    key: 'wsMaxSocketsPerUser',
    default: '`20`',
    description: 'open sockets one user may hold on one instance; one more is refused with 429',
    parse: integer(20, 1, 10_000),
  }),
  variable({
    name: 'PRESENCE_OFFLINE_GRACE_MS',
    key: 'presenceOfflineGraceMs',
    default: '`10000`',
    description: "how long a user whose last socket closed stays `online` before `offline` is announced (absorbs reloads and reconnects)",
    parse: integer(10_000, 0, 60_000),
  }),
  variable({
    name: 'PRESENCE_HEARTBEAT_MS',
    key: 'presenceHeartbeatMs',
    default: '`10000`',
    description:
      "with `REDIS_URL` or `REDIS_CLUSTER_NODES`: how often an instance renews its entry in Redis; one silent for 3 heartbeats is taken for dead and its users' sockets stop counting (up to `15000`, so that they do within 60 s with the default grace)",
    parse: integer(10_000, 100, 15_000),
  }),
  variable({
    name: 'RATE_LIMIT_LOGIN_PER_ADDRESS',
    key: 'rateLimits.loginPerAddress',
    default: '`20/60`',
    description: 'login attempts per client address, as `N/S` (N per S seconds) or `off`',
    parse: rateLimit('20/60'),
  }),
  variable({
    name: 'RATE_LIMIT_LOGIN_PER_USERNAME',
    key: 'rateLimits.loginPerUsername',
    default: '`10/60`',
    description: 'login attempts per username from one address, `N/S` or `off`',
    parse: rateLimit('10/60'),
  }),
  variable({
    name: 'RATE_LIMIT_LOGIN_PER_USERNAME_GLOBAL',
    key: 'rateLimits.loginPerUsernameGlobal',
    default: '`100/3600`',
    description: 'login attempts per username from all addresses together (guessing spread over addresses), `N/S` or `off`',
    parse: rateLimit('100/3600'),
  }),
  variable({
    name: 'RATE_LIMIT_REGISTER_PER_ADDRESS',
    key: 'rateLimits.registerPerAddress',
    default: '`20/3600`',
    description: 'registrations per client address, `N/S` or `off`',
    parse: rateLimit('20/3600'),
  }),
  variable({
    name: 'RATE_LIMIT_REFRESH_PER_ADDRESS',
    key: 'rateLimits.refreshPerAddress',
    default: '`300/60`',
    description: '`POST /api/v1/auth/refresh` calls per client address, `N/S` or `off`',
    parse: rateLimit('300/60'),
  }),
  variable({
    name: 'RATE_LIMIT_SEND_PER_USER',
    key: 'rateLimits.sendPerUser',
    default: '`60/10`',
    description: 'messages sent per user, `N/S` or `off`',
    parse: rateLimit('60/10'),
  }),
  variable({
    name: 'RATE_LIMIT_SEND_PER_ADDRESS',
    key: 'rateLimits.sendPerAddress',
    default: '`600/10`',
    description: 'messages sent per client address, `N/S` or `off`',
    parse: rateLimit('600/10'),
  }),
  variable({
    name: 'TRUST_PROXY',
    key: 'trustProxy',
    default: 'unset: trust no proxy',
    description: "whose `X-Forwarded-For` gives the client address: `true`, a hop count, or proxy IPs/CIDRs (Fastify's `trustProxy`)",
    parse: trustProxy,
  }),
  variable({
    name: 'ADMIN_USERNAME',
    key: 'adminUsername',
    default: 'unset',
    description: 'with `ADMIN_PASSWORD`: this user is created or made an active admin at start',
    parse: adminUsername,
  }),
  variable({
    name: 'ADMIN_PASSWORD',
    key: 'adminPassword',
    default: 'unset',
    description: "the password `ADMIN_USERNAME` ends up with (8–128 characters)",
    parse: adminPassword,
  }),
  variable({
    name: 'LOG_LEVEL',
    key: 'logLevel',
    default: '`info` (`warn` when `NODE_ENV=test`)',
    description: '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`',
    parse: logLevel,
  }),
  variable({
    name: 'LOG_FORMAT',
    key: 'logFormat',
    default: '`pretty` in development, else `json`',
    description: '`json` (one object a line) or `pretty` (needs the dev dependency `pino-pretty`; JSON without it)',
    parse: logFormat,
  }),
  variable({
    name: 'SHUTDOWN_TIMEOUT_MS',
    key: 'shutdownTimeoutMs',
    default: '`10000`',
    description: 'how long a graceful shutdown may take before the process exits 1',
    parse: integer(10_000, 100, 600_000),
  }),
  variable({
    name: 'METRICS_TOKEN',
    key: 'metricsToken',
    default: 'unset',
    description:
      '`/metrics` answers only `Authorization: Bearer <token>` (401 otherwise), on the main port and the metrics listener alike; 16+ printable ASCII characters, no spaces. Unset, the main port answers `/metrics` 404',
    parse: metricsToken,
  }),
  variable({
    name: 'METRICS_PORT',
    key: 'metricsPort',
    default: 'unset: no metrics listener',
    description: 'a second listener serving `/metrics` alone (404 for anything else), on `METRICS_HOST`; must differ from `PORT` (`0`: a free port, logged)',
    parse: metricsPort,
  }),
  variable({
    name: 'METRICS_HOST',
    key: 'metricsHost',
    default: '`127.0.0.1`',
    description: 'address the metrics listener binds; loopback lets only the machine (or pod) itself scrape: `0.0.0.0` only where the network in front is private',
    parse: text('127.0.0.1'),
  }),
  variable({
    name: 'ATTACHMENT_MAX_BYTES',
    key: 'attachmentMaxBytes',
    default: '`26214400` (25 MiB)',
    description: 'largest upload; a larger one gets 413 as soon as it passes this, and nothing of it is kept',
    parse: integer(25 * 2 ** 20, 1, 2 ** 40),
  }),
  variable({
    name: 'ATTACHMENT_QUOTA_BYTES',
    key: 'attachmentQuotaBytes',
    default: '`1073741824` (1 GiB)',
    description: "storage one user's attachments may take, attached or not yet; an upload past it gets 413",
    parse: integer(2 ** 30, 1, 2 ** 50),
  }),
  variable({
    name: 'ATTACHMENT_MAX_IMAGE_PIXELS',
    key: 'attachmentMaxImagePixels',
    default: '`100000000` (100 megapixels)',
    description: 'largest image (width × height) decoded for its size and thumbnail; a larger one is refused with 400 from its header, undecoded (decompression bombs)',
    parse: integer(100_000_000, 1, 2 ** 40),
  }),
  variable({
    name: 'ATTACHMENT_IMAGE_CONCURRENCY',
    key: 'attachmentImageConcurrency',
    default: '`1`',
    description: 'images decoded at once (thumbnails, metadata stripping) by the image process (a child at a lower CPU priority), each on one libvips thread; further uploads wait their turn',
    parse: integer(1, 1, 64),
  }),
  variable({
    name: 'ATTACHMENT_STRIP_METADATA',
    key: 'attachmentStripMetadata',
    default: '`true`',
    description: 'images with EXIF or XMP metadata (GPS location, camera, time) are stored re-encoded without it, turned upright; `false` keeps them as uploaded',
    parse: boolean(true),
  }),
  variable({
    name: 'ATTACHMENT_CLEANUP_INTERVAL_MS',
    key: 'attachmentCleanupIntervalMs',
    default: '`300000` (5 min)',
    description: "how often the cleanup job runs, on one instance at a time: uploads never attached after a day, and removed attachments' files",
    parse: integer(300_000, 1000, 86_400_000),
  }),
  variable({
    name: 'STORAGE_DIR',
    key: 'storageDir',
    default: '`attachments/` under `DATA_DIR`',
    description: 'where attachments are kept when `S3_BUCKET` is unset; every instance must see the same directory',
    parse: (raw, name, config) => raw ?? path.join(config.dataDir!, 'attachments'),
  }),
  variable({
    name: 'S3_BUCKET',
    key: 's3Bucket',
    default: 'unset: the local `STORAGE_DIR`',
    description:
      "keep attachments in this bucket of an S3-compatible store (AWS, MinIO, Ceph, R2); credentials from the AWS SDK's usual variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, …)",
    parse: s3Bucket,
  }),
  variable({
    name: 'S3_ENDPOINT',
    key: 's3Endpoint',
    default: "unset: AWS's endpoint for `S3_REGION`",
    description: 'the store\'s URL, `http://` or `https://` (MinIO, Ceph, R2)',
    parse: onlyWithS3(url(['http:', 'https:'])),
  }),
  variable({
    name: 'S3_REGION',
    key: 's3Region',
    default: '`us-east-1`',
    description: 'region of the bucket (`auto` for R2)',
    parse: onlyWithS3((raw) => raw ?? 'us-east-1'),
  }),
  variable({
    name: 'S3_FORCE_PATH_STYLE',
    key: 's3ForcePathStyle',
    default: '`false`',
    description: 'address the bucket as `endpoint/bucket/key` (MinIO and most self-hosted stores) instead of `bucket.endpoint/key`',
    parse: onlyWithS3(boolean(false)),
  }),
  variable({
    name: 'S3_REDIRECT_DOWNLOADS',
    key: 's3RedirectDownloads',
    default: '`false`',
    description:
      "answer an attachment's `content` and `thumbnail` with a redirect (302) to a presigned URL of the bucket, valid as long as Parley's own link, instead of passing the bytes through",
    parse: onlyWithS3(boolean(false)),
  }),
  variable({
    name: 'WEBHOOK_ALLOW_HTTP',
    key: 'webhookAllowHttp',
    default: '`false`',
    description: 'bot webhook URLs may be `http://` as well as `https://` (development)',
    parse: boolean(false),
  }),
  variable({
    name: 'WEBHOOK_ALLOW_PRIVATE',
    key: 'webhookAllowPrivate',
    default: '`false`',
    description:
      'bot webhook URLs may point at loopback, private, link-local and other non-public addresses (development); otherwise the address a name resolves to is checked at registration and at every delivery',
    parse: boolean(false),
  }),
  variable({
    name: 'JOB_QUEUE_TASKS',
    key: 'jobQueueTasks',
    default: '`all`',
    description:
      'which jobs of the durable queue this instance runs: `all`, `none` (it only serves requests; others deliver), or a comma-separated list of `webhook`, `push`',
    parse: jobQueueTasks,
  }),
  variable({
    name: 'VAPID_PUBLIC_KEY',
    key: 'vapidPublicKey',
    default: 'unset: generated once and kept in `DATA_DIR/vapid-keys.json`',
    description: 'Web Push identity (VAPID, RFC 8292): the public key, URL-safe base64; set it with `VAPID_PRIVATE_KEY`, the same on every instance',
    parse: vapidKey(65),
  }),
  variable({
    name: 'VAPID_PRIVATE_KEY',
    key: 'vapidPrivateKey',
    default: 'unset: as `VAPID_PUBLIC_KEY`',
    description: 'the private key of `VAPID_PUBLIC_KEY`, URL-safe base64',
    parse: vapidKey(32),
  }),
  variable({
    name: 'VAPID_SUBJECT',
    key: 'vapidSubject',
    default: '`mailto:admin@localhost`',
    description: 'who push services may contact about this server\'s pushes: a `mailto:` or `https:` URL',
    parse: (raw, name) => url(['mailto:', 'https:'])(raw, name) ?? 'mailto:admin@localhost',
  }),
] as const;

// Fails to compile when an AppConfig field has no variable above.
type Unread = Exclude<ConfigKey, (typeof CONFIG_VARIABLES)[number]['key']>;
const everyFieldRead: [Unread] extends [never] ? true : { unread: Unread } = true;
void everyFieldRead;

/** Reads and validates the whole configuration once, at start-up. */
export function loadConfig(env: Env = process.env): AppConfig {
  const config: ConfigDraft = { rateLimits: {} };
  for (const entry of CONFIG_VARIABLES as readonly ConfigVariable[]) {
    const raw = env[entry.name];
    const value = entry.parse(raw === '' ? undefined : raw, entry.name, config);
    if (entry.key.startsWith('rateLimits.')) {
      config.rateLimits[entry.key.slice('rateLimits.'.length) as keyof RateLimits] = value as RateLimit | undefined;
    } else {
      (config as Record<string, unknown>)[entry.key] = value;
    }
  }
  return config as AppConfig;
}
