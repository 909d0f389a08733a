import type { Readable } from 'node:stream';

/** Bytes `start` to `end` of an object, both included (as HTTP's Range counts them). */
export interface ByteRange {
  start: number;
  end: number;
}

/** How a presigned download should be answered by the store (its response headers). */
export interface DownloadHeaders {
  contentType: string;
  contentDisposition: string;
}

/** The object is not in the storage (never stored, or removed). */
export class StoredObjectMissing extends Error {
  constructor(key: string) {
    super(`No stored object ${key}`);
  }
}

/**
 * Where attachments' bytes live: a local directory (LocalStorage) or an S3-compatible bucket
 * (S3Storage). Keys are made by Parley (`ab/<uuid>`, never a client's file name). Both run the
 * same test suite (test/e2e/attachment-storage.e2e.test.ts).
 *
 * Uploads are first written whole to `stagingDir`, a local directory (checked and thumbnailed
 * there), then `put`. For the local directory that is a rename on the same file system.
 */
export abstract class AttachmentStorage {
  /** `local` or `s3`, for the logs. */
  abstract readonly kind: string;
  /** A local directory for uploads on their way in. */
  abstract readonly stagingDir: string;

  /** Creates the directories it needs. */
  abstract prepare(): Promise<void>;

  /**
   * Stores the whole file at `sourcePath` under `key`, durably. The file may be moved in the
   * process: the caller removes it afterwards if it is still there.
   */
  abstract put(key: string, sourcePath: string, contentType: string): Promise<void>;

  /** The object's bytes, or a range of them. Throws StoredObjectMissing. */
  abstract read(key: string, range?: ByteRange): Promise<Readable>;

  /** Removes the object; nothing happens when it is not there. */
  abstract delete(key: string): Promise<void>;

  /**
   * A URL the client may fetch the object from directly, until `expiresInSeconds` from now, with
   * these response headers; undefined when the store cannot give one (a local directory).
   */
  presignedUrl(_key: string, _expiresInSeconds: number, _headers: DownloadHeaders): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  /** Releases connections; the default has none. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Keys as Parley makes them: lower-case letters, digits and `/ . -`, no `..` segment, nothing absolute. */
const KEY = /^[a-z0-9][a-z0-9.-]*(\/[a-z0-9][a-z0-9.-]*)*$/;

export function assertStorageKey(key: string): void {
  if (!KEY.test(key) || key.split('/').includes('..')) throw new Error(`Not a storage key: ${JSON.stringify(key)}`);
}
