import { Injectable, Logger } from '@nestjs/common';
import type { AuthUser } from '../common/caller/caller.js';
import { MessagesService } from '../messages/messages.service.js';

/** Moderation of attachments. */
@Injectable()
export class AdminAttachmentsService {
  private readonly logger = new Logger(AdminAttachmentsService.name);

  constructor(private readonly messages: MessagesService) {}

  /** Removes the attachment as MessagesService.removeAttachment does, and records who did. */
  async remove(caller: AuthUser, attachmentId: string, requestId: string): Promise<void> {
    await this.messages.removeAttachment(attachmentId);
    this.logger.log({ reqId: requestId }, `Admin ${caller.username} (${caller.id}) removed attachment ${attachmentId}`);
  }
}
