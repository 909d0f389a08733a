import { Injectable, Logger } from '@nestjs/common';
import type { AuthUser } from '../common/caller/caller.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { AttachmentLinks } from '../attachments/attachment-links.js';
import { MessagesService } from '../messages/messages.service.js';
import { AdminRepository } from './admin.repository.js';
import { toAdminMessageView, type AdminMessagePage } from './admin.views.js';
import type { SearchMessagesQuery } from './dto/search-messages.query.js';

/** Searching every conversation's messages, and moderation removal. */
@Injectable()
export class AdminMessagesService {
  private readonly logger = new Logger(AdminMessagesService.name);

  constructor(
    private readonly admin: AdminRepository,
    private readonly messages: MessagesService,
    private readonly links: AttachmentLinks,
  ) {}

  async search(caller: AuthUser, query: SearchMessagesQuery): Promise<AdminMessagePage> {
    const beforeId = query.cursor ? decodeCursor(query.cursor, ['id'])[0] : undefined;
    const { q, senderId, conversationId, from, to } = query;
    const rows = await this.admin.searchMessages({ q, senderId, conversationId, from, to, beforeId }, query.limit + 1);
    const items = rows.slice(0, query.limit).map((row) => toAdminMessageView(row, this.links, caller.id));
    const nextCursor = rows.length > query.limit ? encodeCursor([items[items.length - 1].id]) : null;
    return { items, nextCursor };
  }

  /**
   * The same removal as a sender's own delete: a tombstone stays in history and the members
   * get `message.deleted`. Removing a tombstone again changes nothing. `requestId` goes on the
   * line that records the removal.
   */
  async remove(caller: AuthUser, messageId: string, requestId: string): Promise<void> {
    await this.messages.delete(caller, messageId);
    this.logger.log({ reqId: requestId }, `Admin ${caller.username} (${caller.id}) removed message ${messageId}`);
  }
}
