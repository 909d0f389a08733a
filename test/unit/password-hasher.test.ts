import { describe, expect, it } from 'vitest';
import { PasswordHasher } from '../../src/auth/password-hasher.js';
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
