import { scryptSync } from 'node:crypto';

/** One scrypt computation, as PasswordHasher hands it to its worker threads. */
export interface ScryptTask {
  password: string;
  salt: Uint8Array;
  keyLength: number;
  N: number;
  r: number;
  p: number;
  maxmem: number;
}

/**
 * Runs on one of PasswordHasher's worker threads. scryptSync, not scrypt: the asynchronous form
 * would hand the work to libuv's thread pool, which the whole process shares with file reads
 * and log writes, and which is what this thread exists to keep free.
 */
export default function scryptOnThisThread({ password, salt, keyLength, N, r, p, maxmem }: ScryptTask): Uint8Array {
  return scryptSync(password, salt, keyLength, { N, r, p, maxmem });
}
