import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttachmentStorage, StoredObjectMissing } from '../../src/attachments/storage/attachment-storage.js';
import { LocalStorage } from '../../src/attachments/storage/local-storage.js';
import { S3Storage } from '../../src/attachments/storage/s3-storage.js';
import { S3RVER_CREDENTIALS, startLocalS3, type LocalS3 } from '../support/s3rver.js';

/**
 * One suite, run against both storages: the local directory, and S3 through the real AWS SDK
 * against s3rver (a local stand-in for an S3-compatible store, test/support/s3rver.ts).
 */
let scratch: string;
let s3: LocalS3;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'parley-storage-'));
  s3 = await startLocalS3();
});

afterAll(async () => {
  await s3?.close();
  await rm(scratch, { recursive: true, force: true });
});

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const storages: [string, () => AttachmentStorage][] = [
  ['a local directory', () => new LocalStorage(path.join(scratch, 'local'))],
  [
    'an S3 bucket (s3rver)',
    () =>
      new S3Storage({
        bucket: s3.bucket,
        region: 'us-east-1',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        stagingDir: path.join(scratch, 's3-staging'),
        credentials: S3RVER_CREDENTIALS,
      }),
  ],
];

describe.each(storages)('the attachment storage: %s', (_name, make) => {
  let storage: AttachmentStorage;
  /** A file in the staging directory, as an upload leaves it. */
  const staged = async (bytes: Buffer) => {
    const file = path.join(storage.stagingDir, randomBytes(8).toString('hex'));
    await writeFile(file, bytes);
    return file;
  };

  beforeAll(async () => {
    storage = make();
    await storage.prepare();
  });

  afterAll(async () => {
    await storage.close();
  });

  it('keeps a staging directory on the local disk', () => {
    expect(existsSync(storage.stagingDir)).toBe(true);
  });

  it('stores a file and reads it back whole', async () => {
    const bytes = randomBytes(100_000);
    await storage.put('ab/whole', await staged(bytes), 'application/octet-stream');
    expect((await bytesOf(await storage.read('ab/whole'))).equals(bytes)).toBe(true);
  });

  it('streams a large file both ways', async () => {
    const bytes = randomBytes(12 * 2 ** 20);
    await storage.put('cd/large', await staged(bytes), 'application/octet-stream');
    const back = createHash('sha256');
    for await (const chunk of await storage.read('cd/large')) back.update(chunk as Buffer);
    expect(back.digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('reads a range, both ends included', async () => {
    const bytes = randomBytes(1000);
    await storage.put('ef/range', await staged(bytes), 'application/octet-stream');
    expect((await bytesOf(await storage.read('ef/range', { start: 10, end: 19 }))).equals(bytes.subarray(10, 20))).toBe(true);
    expect((await bytesOf(await storage.read('ef/range', { start: 999, end: 999 }))).equals(bytes.subarray(999))).toBe(true);
  });

  it('replaces an object stored again under the same key', async () => {
    await storage.put('ab/again', await staged(Buffer.from('first')), 'text/plain');
    await storage.put('ab/again', await staged(Buffer.from('second')), 'text/plain');
    expect((await bytesOf(await storage.read('ab/again'))).toString()).toBe('second');
  });

  it('stores an empty file', async () => {
    await storage.put('ab/empty', await staged(Buffer.alloc(0)), 'application/octet-stream');
    expect((await bytesOf(await storage.read('ab/empty'))).length).toBe(0);
  });

  it('says StoredObjectMissing for a key never stored, and after a delete', async () => {
    await expect(storage.read('zz/never')).rejects.toBeInstanceOf(StoredObjectMissing);
    await storage.put('ab/doomed', await staged(Buffer.from('x')), 'text/plain');
    await storage.delete('ab/doomed');
    await expect(storage.read('ab/doomed')).rejects.toBeInstanceOf(StoredObjectMissing);
  });

  it('deletes a key that is not there without complaint', async () => {
    await expect(storage.delete('zz/not-there')).resolves.toBeUndefined();
  });

  it('refuses keys Parley does not make: absolute, with .., or with other characters', async () => {
    const file = await staged(Buffer.from('x'));
    for (const key of ['/etc/passwd', '../outside', 'ab/../../outside', 'AB/upper', 'ab//double', 'ab/with space', '']) {
      await expect(storage.put(key, file, 'text/plain'), key).rejects.toThrow(/Not a storage key/);
      await expect(storage.read(key), key).rejects.toThrow(/Not a storage key/);
      await expect(storage.delete(key), key).rejects.toThrow(/Not a storage key/);
    }
  });

  it('leaves nothing of the staged file behind in another key', async () => {
    const file = await staged(Buffer.from('moved or copied'));
    await storage.put('ab/from-staging', file, 'text/plain');
    await rm(file, { force: true });
    expect((await bytesOf(await storage.read('ab/from-staging'))).toString()).toBe('moved or copied');
    expect(await readdir(storage.stagingDir)).not.toContain(path.basename(file));
  });
});
