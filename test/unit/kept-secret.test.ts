import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keptJwtSecret } from '../../src/config/kept-secret.js';

describe('keptJwtSecret', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'parley-kept-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('makes a secret on the first call, owner-only, and gives the same one after', async () => {
    const dataDir = path.join(dir, 'data');
    const secret = await keptJwtSecret(dataDir);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(path.join(dataDir, 'jwt-secret'))).mode & 0o777).toBe(0o600);
    expect(await keptJwtSecret(dataDir)).toBe(secret);
  });

  it('agrees on one secret when two first starts race', async () => {
    const [one, two] = await Promise.all([keptJwtSecret(dir), keptJwtSecret(dir)]);
    expect(one).toBe(two);
    expect((await readFile(path.join(dir, 'jwt-secret'), 'utf8')).trim()).toBe(one);
    expect(await readdir(dir)).toEqual(['jwt-secret']);
  });

  it('replaces an empty file', async () => {
    await writeFile(path.join(dir, 'jwt-secret'), '\n');
    const secret = await keptJwtSecret(dir);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(await keptJwtSecret(dir)).toBe(secret);
  });
});
