import { describe, expect, it } from 'vitest';
import { PasswordHasher } from '../../src/auth/password-hasher.js';
import { ClientGoneException } from '../../src/common/client-gone.js';
import { ServiceBusyException } from '../../src/common/service-busy.exception.js';
import { loadConfig } from '../../src/config/app-config.js';

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher(loadConfig({ SCRYPT_COST: '1024' }));

  it('verifies the right password and rejects others', async () => {
    const hash = await hasher.hash('correct horse');
    expect(await hasher.verify('correct horse', hash)).toBe(true);
    expect(await hasher.verify('correct horsE', hash)).toBe(false);
    expect(await hasher.verify('correct horse', 'plain-text')).toBe(false);
  });

  it('salts every hash and records its parameters', async () => {
    const [one, two] = [await hasher.hash('same'), await hasher.hash('same')];
    expect(one).not.toBe(two);
    expect(one.split('$').slice(0, 4)).toEqual(['scrypt', '1024', '8', '1']);
  });

  it('keeps verifying hashes made at another cost after the cost changes', async () => {
    const old = await hasher.hash('still mine');
    const stronger = new PasswordHasher(loadConfig({ SCRYPT_COST: '4096' }));
    expect(await stronger.verify('still mine', old)).toBe(true);
  });

  it('uses the OWASP cost (N=2^17, r=8, p=1) by default', async () => {
    const hash = await new PasswordHasher(loadConfig({})).hash('default cost');
    expect(hash.split('$').slice(0, 4)).toEqual(['scrypt', '131072', '8', '1']);
  });
});

describe('PasswordHasher under load', () => {
  // One thread and a queue of two. Whether a hash is taken is decided when it is asked for, so
  // each test asks for all of its hashes before awaiting anything, and the cost can stay low.
  const busyHasher = () => new PasswordHasher(loadConfig({ SCRYPT_COST: '1024', PASSWORD_HASH_THREADS: '1', PASSWORD_HASH_QUEUE: '2' }));

  it('refuses a hash at once with 503 and Retry-After when its queue is full, and takes hashes again once it drains', async () => {
    const hasher = busyHasher();
    try {
      const accepted = [hasher.hash('one'), hasher.hash('two'), hasher.hash('three')];
      const refused = hasher.hash('four').then(
        () => undefined,
        (error: unknown) => error,
      );
      // The check of an unknown user's password waits in the same queue.
      const unknownUser = hasher.verifyAgainstNothing('five');
      const error = await refused;
      expect(error).toBeInstanceOf(ServiceBusyException);
      expect((error as ServiceBusyException).getStatus()).toBe(503);
      expect((error as ServiceBusyException).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      await expect(unknownUser).rejects.toBeInstanceOf(ServiceBusyException);
      const hashes = await Promise.all(accepted);
      expect(await hasher.verify('two', hashes[1])).toBe(true);
      // Refused once, the check of an unknown user's password works again afterwards.
      await expect(hasher.verifyAgainstNothing('five')).resolves.toBeUndefined();
    } finally {
      await hasher.onApplicationShutdown();
    }
  });

  it('drops a queued hash whose client has gone, making room for another', async () => {
    const hasher = busyHasher();
    try {
      const running = hasher.hash('running');
      const gone = new AbortController();
      const abandoned = hasher.hash('abandoned', gone.signal);
      const waiting = hasher.hash('waiting');
      gone.abort();
      // Its place in the queue is free again: this one is accepted, not refused.
      const next = hasher.hash('next');
      await expect(abandoned).rejects.toBeInstanceOf(ClientGoneException);
      expect(await hasher.verify('next', await next)).toBe(true);
      await Promise.all([running, waiting]);
    } finally {
      await hasher.onApplicationShutdown();
    }
  });
});
