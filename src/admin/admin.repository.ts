import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { messageColumns } from '../messages/messages.repository.js';
import type { AdminMessageRow } from './admin.views.js';

// The admin's own reactions are of no interest here: `reacted` is always empty.
const ADMIN_MESSAGE_COLUMNS = `${messageColumns('NULL')}, u.username AS "senderUsername"`;

/**
 * How many of the newest messages a search with no filter but its words tries first: a common
 * word fills a page among them, and the index is only needed for rarer ones.
 */
const RECENT_WINDOW = 5000;

export interface MessageFilter {
  q?: string;
  senderId?: string;
  conversationId?: string;
  from?: string;
  to?: string;
  beforeId?: string;
}

export interface Counts {
  users: string;
  conversations: string;
  messages: string;
  messagesLast24h: string;
  attachments: string;
  attachmentBytes: string;
}

/**
 * The admin API's own SQL: the message search (each sender's username joined in) and the
 * totals, each one statement across tables. Its statements on users alone are UsersRepository's.
 */
@Injectable()
export class AdminRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Messages newest first (by id), after the `beforeId` cursor; `q` is a full-text search.
   *
   * With words, the statement's shape fixes the plan rather than leaving it to estimates: as a
   * plain `WHERE search_vector @@ … ORDER BY id DESC LIMIT n`, PostgreSQL walked the primary key
   * newest first testing each message, and a word nobody wrote read the whole table (2.5 s at
   * five million messages) while the GIN index sat unused. Now the matches come from the GIN
   * index, in a MATERIALIZED set that cannot be read in id order, so the work grows with the
   * number of matches. A word in most messages would make that set large, so a search with no
   * other filter first tries the newest RECENT_WINDOW messages, where such a word fills a page.
   */
  async searchMessages(filter: MessageFilter, limit: number): Promise<AdminMessageRow[]> {
    const params: unknown[] = [limit];
    const conditions: string[] = [];
    if (filter.senderId) conditions.push(`m.sender_id = $${params.push(filter.senderId)}`);
    if (filter.conversationId) conditions.push(`m.conversation_id = $${params.push(filter.conversationId)}`);
    if (filter.from) conditions.push(`m.created_at >= $${params.push(filter.from)}::timestamptz`);
    if (filter.to) conditions.push(`m.created_at < $${params.push(filter.to)}::timestamptz`);
    const filtered = conditions.length > 0;
    if (filter.beforeId) conditions.push(`m.id < $${params.push(filter.beforeId)}`);
    const where = (extra: string[] = []) => {
      const all = [...conditions, ...extra];
      return all.length > 0 ? `WHERE ${all.join(' AND ')}` : '';
    };
    if (!filter.q) {
      return this.dataSource.query(
        `SELECT ${ADMIN_MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id ${where()} ORDER BY m.id DESC LIMIT $1`,
        params,
      );
    }
    // websearch_to_tsquery never fails on user input: quotes, "or" and "-word" have meaning,
    // anything else is taken as words.
    const matches = `m.search_vector @@ websearch_to_tsquery('simple', $${params.push(filter.q)})`;
    if (!filtered) {
      const recent: AdminMessageRow[] = await this.dataSource.query(
        `SELECT ${ADMIN_MESSAGE_COLUMNS}
           FROM (SELECT * FROM messages m ${where()} ORDER BY m.id DESC LIMIT ${RECENT_WINDOW}) m
           JOIN users u ON u.id = m.sender_id
          WHERE ${matches} ORDER BY m.id DESC LIMIT $1`,
        params,
      );
      if (recent.length === limit) return recent;
    }
    return this.dataSource.query(
      `WITH matches AS MATERIALIZED (
         SELECT m.id FROM messages m ${where([matches])}
       )
       SELECT ${ADMIN_MESSAGE_COLUMNS}
         FROM (SELECT id FROM matches ORDER BY id DESC LIMIT $1) page
         JOIN messages m ON m.id = page.id JOIN users u ON u.id = m.sender_id
        ORDER BY m.id DESC`,
      params,
    );
  }

  async counts(): Promise<Counts> {
    const [row] = await this.dataSource.query(
      `SELECT (SELECT count(*) FROM users) AS users,
              (SELECT count(*) FROM conversations) AS conversations,
              (SELECT count(*) FROM messages) AS messages,
              (SELECT count(*) FROM messages WHERE created_at > now() - interval '24 hours') AS "messagesLast24h",
              (SELECT count(*) FROM attachments WHERE removed_at IS NULL AND state = 'stored') AS attachments,
              (SELECT coalesce(sum(size + coalesce(thumbnail_size, 0)), 0) FROM attachments) AS "attachmentBytes"`,
    );
    return row;
  }
}
