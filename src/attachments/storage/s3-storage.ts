import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AttachmentStorage, StoredObjectMissing, assertStorageKey, type ByteRange, type DownloadHeaders } from './attachment-storage.js';

export interface S3StorageOptions {
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  /** A local directory for uploads on their way to the bucket. */
  stagingDir: string;
  /** Only for tests against a local stand-in; otherwise the AWS SDK's own credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * Attachments as objects of one bucket of an S3-compatible store (AWS, MinIO, Ceph, R2), through
 * the AWS SDK. Credentials come from the SDK's usual chain (AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY, a profile, an instance role). Uploads are staged on the local disk,
 * then sent in one PUT of known length.
 */
export class S3Storage extends AttachmentStorage {
  readonly kind = 's3';
  readonly stagingDir: string;
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(options: S3StorageOptions) {
    super();
    this.bucket = options.bucket;
    this.stagingDir = options.stagingDir;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // The SDK's default checksums (a trailer on every PUT) are AWS's own; several
      // S3-compatible stores refuse them. Only where an operation requires one.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async prepare(): Promise<void> {
    await mkdir(this.stagingDir, { recursive: true });
  }

  async put(key: string, sourcePath: string, contentType: string): Promise<void> {
    assertStorageKey(key);
    const { size } = await stat(sourcePath);
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: createReadStream(sourcePath), ContentLength: size, ContentType: contentType }),
    );
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    assertStorageKey(key);
    try {
      const answer = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      return answer.Body as Readable;
    } catch (error) {
      if (isMissing(error)) throw new StoredObjectMissing(key);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    assertStorageKey(key);
    // S3 answers 204 for a key that is not there.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  override presignedUrl(key: string, expiresInSeconds: number, headers: DownloadHeaders): Promise<string | undefined> {
    assertStorageKey(key);
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentType: headers.contentType,
      ResponseContentDisposition: headers.contentDisposition,
    });
    return getSignedUrl(this.client, command, { expiresIn: expiresInSeconds });
  }

  override close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}

function isMissing(error: unknown): boolean {
  return error instanceof NoSuchKey || (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404);
}
