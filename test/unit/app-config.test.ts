import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/app-config.js';

describe('loadConfig', () => {
  it('has working defaults for development', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, databaseUrl: undefined, redisUrl: undefined, allowedOrigins: undefined, scryptCost: 131072 });
    expect(config.jwtSecret).toHaveLength(64);
  });

  it('bounds every database statement and transaction by default, and lets each limit be lifted with 0', () => {
    expect(loadConfig({})).toMatchObject({
      databaseLockTimeoutMs: 2000,
      databaseStatementTimeoutMs: 30_000,
      databaseIdleInTransactionTimeoutMs: 10_000,
      databaseAnswerTimeoutMs: 40_000,
    });
    expect(loadConfig({ DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '0' }).databaseIdleInTransactionTimeoutMs).toBe(0);
    expect(loadConfig({ DATABASE_ANSWER_TIMEOUT_MS: '0' }).databaseAnswerTimeoutMs).toBe(0);
  });

  it('waits for an answer 10 s past the statement timeout by default, and without limit when that is lifted', () => {
    expect(loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: '5000' }).databaseAnswerTimeoutMs).toBe(15_000);
    expect(loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: '0' }).databaseAnswerTimeoutMs).toBe(0);
    expect(loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: '0', DATABASE_ANSWER_TIMEOUT_MS: '60000' }).databaseAnswerTimeoutMs).toBe(60_000);
  });

  it.each([
    [{ NODE_ENV: 'production' }, 'JWT_SECRET is required when NODE_ENV=production'],
    [{ NODE_ENV: 'production', JWT_SECRET: 'short' }, 'JWT_SECRET must be at least 32 characters'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379' }, 'JWT_SECRET is required when REDIS_URL is set (every instance must share it)'],
    [{ PORT: 'eighty' }, 'PORT must be a whole number'],
    [{ PORT: '70000' }, 'PORT must be between 0 and 65535'],
    [{ DATABASE_URL: 'mysql://localhost/db' }, 'DATABASE_URL must start with postgres:// or postgresql://'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL is not a valid URL'],
    [{ REDIS_URL: 'http://localhost' }, 'REDIS_URL must start with redis:// or rediss://'],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1:7101' }, 'JWT_SECRET is required when REDIS_CLUSTER_NODES is set (every instance must share it)'],
    [
      { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7101', JWT_SECRET: 'shared' },
      'REDIS_URL and REDIS_CLUSTER_NODES are exclusive: set REDIS_URL for one Redis, or REDIS_CLUSTER_NODES for a Redis Cluster',
    ],
    [{ REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7101' }, 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "redis://127.0.0.1:7101"'],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1:7101,127.0.0.1' }, 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "127.0.0.1"'],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1:7101,' }, 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got ""'],
    [{ REDIS_CLUSTER_NODES: 'redis-0:70000' }, 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "redis-0:70000"'],
    [{ REDIS_CLUSTER_NODES: 'redis-0:0' }, 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "redis-0:0"'],
    [{ REDIS_CLUSTER_NODES: '[not-ipv6]:7000' }, 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "[not-ipv6]:7000"'],
    [{ ALLOWED_ORIGINS: 'https://ok.example, nope' }, 'ALLOWED_ORIGINS has an invalid origin "nope"'],
    [{ TRUST_PROXY: 'garbage' }, 'TRUST_PROXY must be true, false, a hop count or a comma-separated list of proxy addresses'],
    [{ TRUST_PROXY: '-1' }, 'TRUST_PROXY must be true, false, a hop count'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY must be true, false, a hop count'],
    // A URL of scheme "localhost:", whose origin is "null" (sandboxed frames, file:// pages).
    [{ ALLOWED_ORIGINS: 'localhost:3000' }, 'ALLOWED_ORIGINS has an invalid origin "localhost:3000"'],
    [{ ALLOWED_ORIGINS: 'file:///tmp' }, 'ALLOWED_ORIGINS has an invalid origin "file:///tmp"'],
    [{ SCRYPT_COST: '1000' }, 'SCRYPT_COST must be between 1024'],
    [{ SCRYPT_COST: '3072' }, 'SCRYPT_COST must be a power of two'],
    [{ PASSWORD_HASH_THREADS: '0' }, 'PASSWORD_HASH_THREADS must be between 1 and 256'],
    [{ PASSWORD_HASH_QUEUE: 'none' }, 'PASSWORD_HASH_QUEUE must be a whole number'],
    [{ RATE_LIMIT_LOGIN_PER_USERNAME_GLOBAL: '100' }, 'RATE_LIMIT_LOGIN_PER_USERNAME_GLOBAL must be "N/S"'],
    [{ ADMIN_USERNAME: 'root' }, 'ADMIN_USERNAME and ADMIN_PASSWORD must be set together'],
    [{ ADMIN_PASSWORD: 'long enough' }, 'ADMIN_USERNAME and ADMIN_PASSWORD must be set together'],
    [{ ADMIN_USERNAME: 'r', ADMIN_PASSWORD: 'long enough' }, 'ADMIN_USERNAME must be 3–32 characters of a-z 0-9 _ . -'],
    [{ ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'short' }, 'ADMIN_PASSWORD must be 8–128 characters'],
    // Counted in characters, as registration counts a password: 7 emoji are 14 UTF-16 code units.
    [{ ADMIN_USERNAME: 'root', ADMIN_PASSWORD: '😀'.repeat(7) }, 'ADMIN_PASSWORD must be 8–128 characters'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"'],
    [{ LOG_FORMAT: 'xml' }, 'LOG_FORMAT must be json or pretty, got "xml"'],
    [{ SHUTDOWN_TIMEOUT_MS: '10s' }, 'SHUTDOWN_TIMEOUT_MS must be a whole number'],
    [{ DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '3600001' }, 'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS must be between 0 and 3600000'],
    [{ DATABASE_ANSWER_TIMEOUT_MS: '30000' }, 'DATABASE_ANSWER_TIMEOUT_MS must be above DATABASE_STATEMENT_TIMEOUT_MS (or 0)'],
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN must be at least 16 printable ASCII characters without spaces'],
    [{ METRICS_TOKEN: 'sixteen chars with spaces' }, 'METRICS_TOKEN must be at least 16 printable ASCII characters without spaces'],
    [{ METRICS_PORT: '3000' }, 'METRICS_PORT must differ from PORT'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT must be between 0 and 65535'],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('hashes on one thread fewer than the cores, and queues about 2.5 s of hashing, fewer at a higher cost', () => {
    const threads = Math.max(1, availableParallelism() - 1);
    expect(loadConfig({})).toMatchObject({ passwordHashThreads: threads, passwordHashQueue: 4 * threads });
    expect(loadConfig({ PASSWORD_HASH_THREADS: '3' }).passwordHashQueue).toBe(12);
    expect(loadConfig({ PASSWORD_HASH_THREADS: '3', SCRYPT_COST: String(2 ** 18) }).passwordHashQueue).toBe(6);
    expect(loadConfig({ PASSWORD_HASH_THREADS: '1', SCRYPT_COST: String(2 ** 20) }).passwordHashQueue).toBe(1);
    expect(loadConfig({ PASSWORD_HASH_QUEUE: '50' }).passwordHashQueue).toBe(50);
  });

  it('limits login attempts per username and address, and more slowly per username from everywhere', () => {
    expect(loadConfig({}).rateLimits).toMatchObject({
      loginPerUsername: { limit: 10, windowSeconds: 60 },
      loginPerUsernameGlobal: { limit: 100, windowSeconds: 3600 },
    });
    expect(loadConfig({ RATE_LIMIT_LOGIN_PER_USERNAME_GLOBAL: 'off' }).rateLimits.loginPerUsernameGlobal).toBeUndefined();
  });

  it('serves no metrics unless asked, and binds a metrics port to loopback by default', () => {
    expect(loadConfig({})).toMatchObject({ metricsToken: undefined, metricsPort: undefined, metricsHost: '127.0.0.1' });
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_TOKEN: 'a-token-of-16-chars' })).toMatchObject({
      metricsToken: 'a-token-of-16-chars',
      metricsPort: 9464,
      metricsHost: '127.0.0.1',
    });
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metricsHost).toBe('0.0.0.0');
  });

  it('takes TRUST_PROXY as Fastify does: true, a hop count, or proxy addresses', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    const list = '10.0.0.0/8, loopback, 127.0.0.1, ::1, fd00::/8, 192.168.0.0/255.255.0.0';
    expect(loadConfig({ TRUST_PROXY: list }).trustProxy).toBe(list);
  });

  it('logs for people in development, as JSON elsewhere, and quietly in tests', () => {
    expect(loadConfig({})).toMatchObject({ logFormat: 'pretty', logLevel: 'info', shutdownTimeoutMs: 10_000 });
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) })).toMatchObject({ logFormat: 'json', logLevel: 'info' });
    expect(loadConfig({ NODE_ENV: 'test' })).toMatchObject({ logFormat: 'json', logLevel: 'warn' });
    expect(loadConfig({ LOG_FORMAT: 'json', LOG_LEVEL: 'debug' })).toMatchObject({ logFormat: 'json', logLevel: 'debug' });
  });

  it('takes a Redis Cluster as host:port entries, instead of REDIS_URL', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-1.internal:7001,[::1]:7002', JWT_SECRET: 'shared' });
    expect(config.redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-1.internal', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(config.redisUrl).toBeUndefined();
    expect(loadConfig({}).redisClusterNodes).toBeUndefined();
  });

  it('normalises allowed origins', () => {
    expect(loadConfig({ ALLOWED_ORIGINS: 'https://a.example/, http://localhost:5173' }).allowedOrigins).toEqual([
      'https://a.example',
      'http://localhost:5173',
    ]);
  });
});
