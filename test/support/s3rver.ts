import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

/**
 * A local S3-compatible server for the tests: `s3rver`, which speaks the S3 protocol over HTTP
 * from a directory, so that the real AWS SDK is exercised end to end. A stand-in: it checks
 * neither signatures nor most headers, as AWS, MinIO or R2 would.
 */
export interface LocalS3 {
  endpoint: string;
  bucket: string;
  /** The variables that point Parley at it (with the AWS SDK's credential variables). */
  env: Record<string, string>;
  close: () => Promise<void>;
}

/** The credentials s3rver takes. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startLocalS3(bucket = 'parley-test'): Promise<LocalS3> {
  const directory = await mkdtemp(path.join(tmpdir(), 'parley-s3-'));
  // Where the app stages uploads on their way to the bucket (DATA_DIR/attachment-staging).
  const dataDir = await mkdtemp(path.join(tmpdir(), 'parley-s3-data-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', directory, silent: true, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  // The AWS SDK reads its credentials from the environment, as it would in production.
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  // The SDK warns once a process that releases from January 2027 need Node 22.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return {
    endpoint,
    bucket,
    env: { S3_BUCKET: bucket, S3_ENDPOINT: endpoint, S3_REGION: 'us-east-1', S3_FORCE_PATH_STYLE: 'true', DATA_DIR: dataDir },
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
