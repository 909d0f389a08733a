import { Module, type OnApplicationShutdown } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { AttachmentLinks } from './attachment-links.js';
import { AttachmentsCleanup } from './attachments-cleanup.js';
import { AttachmentsController } from './attachments.controller.js';
import { AttachmentsRepository } from './attachments.repository.js';
import { AttachmentsService } from './attachments.service.js';
import { Clock } from './clock.js';
import { ImageProcessor } from './image-processor.js';
import { AttachmentStorage } from './storage/attachment-storage.js';
import { attachmentStorageProvider } from './storage/storage.provider.js';

/**
 * Uploads and downloads of attachments, their storage (a local directory or S3), signed links
 * and the cleanup job. The messages module attaches them to messages, through the repository
 * and the links exported here.
 */
@Module({
  imports: [AuthModule],
  controllers: [AttachmentsController],
  providers: [AttachmentsRepository, AttachmentsService, AttachmentLinks, ImageProcessor, AttachmentsCleanup, Clock, attachmentStorageProvider],
  exports: [AttachmentsRepository, AttachmentLinks],
})
export class AttachmentsModule implements OnApplicationShutdown {
  constructor(private readonly storage: AttachmentStorage) {}

  async onApplicationShutdown(): Promise<void> {
    await this.storage.close();
  }
}
