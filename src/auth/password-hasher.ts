import { randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Piscina } from 'piscina';
import { ClientGoneException } from '../common/client-gone.js';
import { ServiceBusyException } from '../common/service-busy.exception.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import type { ScryptTask } from './password-hash-worker.cjs';

const KEY_LENGTH = 32;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;

/**
 * The worker's compiled file. Under vitest this module is the TypeScript source, which a worker
 * thread cannot load, so the build beside it is used (the test setup keeps it current).
 * CommonJS (`.cts`): piscina loads a worker with `require`, and Node 20's require of an ES
 * module sometimes aborted the process on a native assertion (seen once in CI, in
 * CreateRequiredModuleFacade).
 */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return path.resolve(path.dirname(here), '../../dist/src/auth/password-hash-worker.cjs');
  return path.join(path.dirname(here), 'password-hash-worker.cjs');
}

/**
 * scrypt (N=2^17, r=8, p=1 by default, OWASP's guidance) on a pool of worker threads of its own
 * (PASSWORD_HASH_THREADS), so that hashing neither blocks the event loop nor fills libuv's
 * thread pool, which serves file reads and log writes. At most PASSWORD_HASH_QUEUE hashes wait
 * for a thread: past that a caller gets 503 with Retry-After at once, rather than a wait that
 * grows without bound. The stored string names its own parameters (`scrypt$N$r$p$salt$hash`),
 * so raising the cost later keeps old hashes verifiable.
 */
@Injectable()
export class PasswordHasher implements OnApplicationShutdown {
  /**
   * A hash of no password at the current cost: a random key that nothing matches. Checking
   * against it costs one scrypt like a real check, without hashing anything to make it.
   */
  private readonly dummyHash: string;
  private readonly pool: Piscina<ScryptTask, Uint8Array>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: config.passwordHashThreads,
      // As many as it may have, started now: a login should not wait for a thread to start.
      maxThreads: config.passwordHashThreads,
      // Below the event loop's priority: when the CPUs are short, requests, messages and log
      // writes go first and hashes wait (the queue bound turns that wait into 503s).
      niceIncrement: 10,
    });
    const random = (bytes: number) => randomBytes(bytes).toString('base64');
    this.dummyHash = ['scrypt', config.scryptCost, BLOCK_SIZE, PARALLELISM, random(16), random(KEY_LENGTH)].join('$');
  }

  /** `signal`: the client's connection closed; a hash still waiting for a thread is dropped. */
  async hash(password: string, signal?: AbortSignal): Promise<string> {
    const salt = randomBytes(16);
    const N = this.config.scryptCost;
    const key = await this.scrypt({ password, salt, keyLength: KEY_LENGTH, ...this.params(N, BLOCK_SIZE, PARALLELISM) }, signal);
    return ['scrypt', N, BLOCK_SIZE, PARALLELISM, salt.toString('base64'), key.toString('base64')].join('$');
  }

  async verify(password: string, stored: string, signal?: AbortSignal): Promise<boolean> {
    const [scheme, n, r, p, salt, expected] = stored.split('$');
    if (scheme !== 'scrypt' || !salt || !expected) return false;
    const expectedKey = Buffer.from(expected, 'base64');
    const key = await this.scrypt(
      { password, salt: Buffer.from(salt, 'base64'), keyLength: expectedKey.length, ...this.params(Number(n), Number(r), Number(p)) },
      signal,
    );
    return timingSafeEqual(key, expectedKey);
  }

  /**
   * Spends the same time as a real check, through the same queue (and so the same 503 when it
   * is full), so a login cannot tell unknown usernames apart.
   */
  async verifyAgainstNothing(password: string, signal?: AbortSignal): Promise<void> {
    await this.verify(password, this.dummyHash, signal);
  }

  async onApplicationShutdown(): Promise<void> {
    // After the HTTP server has closed: the requests it let finish have had their hashes.
    await this.pool.destroy();
  }

  private async scrypt(task: ScryptTask, signal?: AbortSignal): Promise<Buffer> {
    if (this.pool.queueSize >= this.config.passwordHashQueue) {
      throw new ServiceBusyException('Too many logins and registrations at once; try again after Retry-After', this.secondsToClearQueue());
    }
    try {
      const key = await this.pool.run(task, { signal });
      return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    } catch (error) {
      if (signal?.aborted) throw new ClientGoneException();
      throw error;
    }
  }

  /** How long the hashes already waiting should take, from the pool's mean time a hash. */
  private secondsToClearQueue(): number {
    const meanMs = this.pool.histogram.runTime.mean;
    const rounds = this.pool.queueSize / this.config.passwordHashThreads + 1;
    return Number.isFinite(meanMs) && meanMs > 0 ? Math.max(1, Math.ceil((rounds * meanMs) / 1000)) : 1;
  }

  private params(N: number, r: number, p: number) {
    // scrypt needs 128 * N * r bytes; Node's default cap (32 MiB) is below N=2^17.
    return { N, r, p, maxmem: 256 * N * r };
  }
}
