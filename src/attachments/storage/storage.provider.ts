import path from 'node:path';
import type { Provider } from '@nestjs/common';
import { StartupError } from '../../common/startup-error.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { AttachmentStorage } from './attachment-storage.js';
import { LocalStorage } from './local-storage.js';

/** The storage the configuration names: the S3 bucket when S3_BUCKET is set, else STORAGE_DIR. */
export const attachmentStorageProvider: Provider = {
  provide: AttachmentStorage,
  inject: [APP_CONFIG],
  useFactory: async (config: AppConfig) => {
    // The AWS SDK is loaded only where it is used: it adds most of a second to every start.
    const storage = config.s3Bucket
      ? new (await import('./s3-storage.js')).S3Storage({
          bucket: config.s3Bucket,
          region: config.s3Region,
          endpoint: config.s3Endpoint,
          forcePathStyle: config.s3ForcePathStyle,
          stagingDir: path.join(config.dataDir, 'attachment-staging'),
        })
      : new LocalStorage(config.storageDir);
    try {
      await storage.prepare();
    } catch (error) {
      // Not writable, or a file where a directory should be: the operator's to fix.
      throw new StartupError(`cannot use the attachments' directory (${path.resolve(storage.stagingDir)}): ${(error as Error).message}`);
    }
    return storage;
  },
};
