import { Injectable } from '@nestjs/common';
import { AttachmentLinks } from '../attachments/attachment-links.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { toMessageView } from '../messages/message.view.js';
import type { SearchMessagesQuery } from './dto/search-messages.query.js';
import { toHighlight } from './highlight.js';
import { SearchRepository } from './search.repository.js';
import type { SearchPage } from './search.views.js';

/** Full-text search of the messages of the conversations the caller is a member of. */
@Injectable()
export class SearchService {
  constructor(
    private readonly search: SearchRepository,
    private readonly conversations: ConversationsService,
    private readonly links: AttachmentLinks,
  ) {}

  /**
   * Newest first, keyset-paginated by message id. Deleted messages (whose body is gone) and
   * system messages (which have none) never match. A conversation the caller is not a member of
   * is a 404, as everywhere.
   */
  async messages(callerId: string, query: SearchMessagesQuery): Promise<SearchPage> {
    if (query.conversationId) await this.conversations.requireMembership(callerId, query.conversationId);
    const beforeId = query.cursor ? decodeCursor(query.cursor, ['id'])[0] : undefined;
    const { q, conversationId, senderId, from, to } = query;
    const rows = await this.search.searchForMember({ callerId, q, conversationId, senderId, from, to, beforeId }, query.limit + 1);
    const items = rows.slice(0, query.limit).map((row) => ({ message: toMessageView(row, this.links, callerId), highlight: toHighlight(row.marked) }));
    const nextCursor = rows.length > query.limit ? encodeCursor([items[items.length - 1].message.id]) : null;
    return { items, nextCursor };
  }
}
