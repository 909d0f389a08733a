import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

const KEY_LENGTH = 32;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;

/**
 * scrypt (N=2^17, r=8, p=1 by default, OWASP's guidance) on libuv's thread pool, so hashing
 * never blocks the event loop. The stored string names its own parameters
 * (`scrypt$N$r$p$salt$hash`), so raising the cost later keeps old hashes verifiable.
 */
@Injectable()
export class PasswordHasher {
  private dummyHash?: Promise<string>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const N = this.config.scryptCost;
    const key = await scryptAsync(password, salt, KEY_LENGTH, this.params(N, BLOCK_SIZE, PARALLELISM));
    return ['scrypt', N, BLOCK_SIZE, PARALLELISM, salt.toString('base64'), key.toString('base64')].join('$');
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const [scheme, n, r, p, salt, expected] = stored.split('$');
    if (scheme !== 'scrypt' || !salt || !expected) return false;
    const expectedKey = Buffer.from(expected, 'base64');
    const key = await scryptAsync(
      password,
      Buffer.from(salt, 'base64'),
      expectedKey.length,
      this.params(Number(n), Number(r), Number(p)),
    );
    return timingSafeEqual(key, expectedKey);
  }

  /** Spends the same time as a real check, so a login cannot tell unknown usernames apart. */
  async verifyAgainstNothing(password: string): Promise<void> {
    this.dummyHash ??= this.hash('not a real password');
    await this.verify(password, await this.dummyHash);
  }

  private params(N: number, r: number, p: number) {
    // scrypt needs 128 * N * r bytes; Node's default cap (32 MiB) is below N=2^17.
    return { N, r, p, maxmem: 256 * N * r };
  }
}
