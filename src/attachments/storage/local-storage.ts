import { copyFile, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AttachmentStorage, StoredObjectMissing, assertStorageKey, type ByteRange } from './attachment-storage.js';

/**
 * Attachments as files under one directory (STORAGE_DIR), `<dir>/<key>`; uploads are staged in
 * `<dir>/.staging`, on the same file system, so storing one is a rename. A stored file is
 * flushed to the disk before its rename and the directory after it, so a row that says
 * "stored" is not lost with a power cut.
 */
export class LocalStorage extends AttachmentStorage {
  readonly kind = 'local';
  readonly stagingDir: string;

  constructor(private readonly root: string) {
    super();
    this.stagingDir = path.join(root, '.staging');
  }

  async prepare(): Promise<void> {
    await mkdir(this.stagingDir, { recursive: true });
  }

  async put(key: string, sourcePath: string): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(path.dirname(target), { recursive: true });
    await syncFile(sourcePath);
    try {
      await rename(sourcePath, target);
    } catch (error) {
      // A staging file on another file system (the S3 store's, or a test's): copied instead.
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await copyFile(sourcePath, target);
      await syncFile(target);
    }
    await syncFile(path.dirname(target));
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    try {
      // Opened here, so that a missing file is known before the answer's headers go out.
      const handle = await open(this.pathOf(key), 'r');
      return handle.createReadStream({ start: range?.start, end: range?.end });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new StoredObjectMissing(key);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  private pathOf(key: string): string {
    assertStorageKey(key);
    return path.join(this.root, key);
  }
}

/** fsync: the file's (or directory's) contents reach the disk. */
async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
