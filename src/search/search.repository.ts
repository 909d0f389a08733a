import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { MessageRow } from '../messages/message.view.js';
import { messageColumns } from '../messages/messages.repository.js';
import { HEADLINE_OPTIONS } from './highlight.js';

export interface MemberSearch {
  callerId: string;
  q: string;
  conversationId?: string;
  senderId?: string;
  from?: string;
  to?: string;
  /** Only messages older than this one (the cursor). */
  beforeId?: string;
}

/** A message found, with its body as ts_headline marked the matches (see highlight.ts). */
export type SearchRow = MessageRow & { marked: string };

/**
 * How many of the caller's newest messages a search reads before it turns to the index, shared
 * out among the caller's conversations (at least one each). A word in many messages is found
 * among them; a rarer one costs this many rows more than the index alone would.
 */
const RECENT_ROWS = 1000;

/**
 * Up to how many conversations the index is asked for the caller's conversations and the words
 * at once. Past that, reading every conversation's postings costs more than reading the words'
 * matches in everyone's messages and keeping the caller's (issue 32: a member of 2,000
 * conversations among ten million messages).
 */
export const FEW_CONVERSATIONS = 100;

/**
 * The member message search: one statement across `messages` and `conversation_members` (the
 * caller's conversations), like the admin search, kept whole rather than split into a round
 * trip per table.
 */
@Injectable()
export class SearchRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The caller's messages matching `q`, newest first; `limit` of them at most. Two ways to find
   * them, in one statement; docs/architecture.md ("Searching messages") explains it and shows
   * the plans on five million messages.
   *
   * 1. `walked`: each of the caller's conversations is read newest first, a share of
   *    RECENT_ROWS messages each, until it has given `limit` matches. Every match newer than the
   *    `horizon` (the newest place where a conversation's share ran out before it had given
   *    `limit`) is then known, so if `limit` of them are, or no share ran out, that is the
   *    answer. A common word ("the") is answered here, without the index: read through the
   *    index, it would fetch every one of its thousands of messages.
   * 2. Otherwise (and only then: the scan sits under a one-time filter) `indexed` takes every
   *    match from the GIN index on (ARRAY[conversation_id], search_vector): one bitmap index
   *    scan that intersects the words' postings with those of the caller's conversations, so
   *    its work grows with the matches in them, never with anyone else's messages. It is
   *    MATERIALIZED so that it cannot be read in id order: PostgreSQL would otherwise walk the
   *    primary key newest first testing every message of everyone (the trap the admin search
   *    fell into), which reads the whole table for a word nobody wrote.
   *
   * A caller in more than FEW_CONVERSATIONS conversations would pay a walk per conversation,
   * and an index scan that decodes the postings of all of them. For it, the first way reads
   * the installation's newest RECENT_ROWS messages instead (`newest`: every match of its newer
   * than the oldest of them is then known, and a common word fills a page there), and the
   * second has the index read the words' matches alone and keeps those of its conversations
   * (`word_hits`): the work grows with the words' matches, not with its conversations.
   *
   * Only the page is then read whole and marked up by ts_headline.
   */
  async searchForMember(search: MemberSearch, limit: number): Promise<SearchRow[]> {
    const params: unknown[] = [search.callerId, search.q, limit, HEADLINE_OPTIONS, RECENT_ROWS, FEW_CONVERSATIONS];
    const inConversation = search.conversationId ? `AND cm.conversation_id = $${params.push(search.conversationId)}` : '';
    const filters: string[] = [];
    if (search.senderId) filters.push(`m.sender_id = $${params.push(search.senderId)}`);
    if (search.from) filters.push(`m.created_at >= $${params.push(search.from)}::timestamptz`);
    if (search.to) filters.push(`m.created_at < $${params.push(search.to)}::timestamptz`);
    const matches = ['m.search_vector @@ query.q', ...filters].join(' AND ');
    const older = search.beforeId ? `AND m.id < $${params.push(search.beforeId)}` : '';
    return this.dataSource.query(
      `WITH query AS (
         SELECT websearch_to_tsquery('simple', $2) AS q
       ), mine AS MATERIALIZED (
         SELECT cm.conversation_id AS id FROM conversation_members cm WHERE cm.user_id = $1 ${inConversation}
       ), few AS (
         SELECT count(*) <= $6 AS yes FROM mine
       ), share AS (
         SELECT greatest(1, $5 / greatest(count(*), 1))::int AS rows FROM mine
       ), walked AS MATERIALIZED (
         -- Per conversation: its matches among its newest share.rows messages, up to $3 of
         -- them, and that share's oldest message (last), which is where the share ran out.
         SELECT mine.id AS conversation_id, w.id, w.hit, w.n = share.rows AS last
           FROM mine, query, share, LATERAL (
             SELECT r.* FROM (
               SELECT m.id, ${matches} AS hit, row_number() OVER (ORDER BY m.seq DESC) AS n
                 FROM messages m WHERE m.conversation_id = mine.id ${older}
                ORDER BY m.seq DESC LIMIT share.rows
             ) r
              WHERE r.hit OR r.n = share.rows
              LIMIT $3
           ) w
          WHERE (SELECT yes FROM few)
       ), horizon AS (
         SELECT max(floor) AS id FROM (
           SELECT max(id) FILTER (WHERE last) AS floor FROM walked GROUP BY conversation_id
           HAVING count(*) FILTER (WHERE hit) < $3 AND bool_or(last)
         ) ran_out
       ), newest AS MATERIALIZED (
         -- Past FEW_CONVERSATIONS: the installation's newest $5 messages, the caller's matches among them.
         SELECT m.id, m.conversation_id IN (SELECT id FROM mine) AND ${matches} AS hit
           FROM (SELECT * FROM messages m WHERE NOT (SELECT yes FROM few) ${older} ORDER BY m.id DESC LIMIT $5) m, query
       ), early AS MATERIALIZED (
         SELECT id FROM (
           SELECT walked.id FROM walked, horizon WHERE walked.hit AND (horizon.id IS NULL OR walked.id >= horizon.id)
           UNION ALL
           SELECT newest.id FROM newest WHERE newest.hit
         ) known ORDER BY id DESC LIMIT $3
       ), settled AS (
         SELECT (SELECT count(*) FROM early) = $3
             OR CASE WHEN (SELECT yes FROM few) THEN (SELECT id FROM horizon) IS NULL
                     ELSE (SELECT count(*) FROM newest) < $5 END AS yes
       ), indexed AS MATERIALIZED (
         SELECT m.id FROM messages m, query
          WHERE NOT (SELECT yes FROM settled) AND (SELECT yes FROM few)
            AND ARRAY[m.conversation_id] && ARRAY(SELECT id FROM mine)
            AND ${matches} ${older}
       ), word_hits AS MATERIALIZED (
         SELECT m.id, m.conversation_id FROM messages m, query
          WHERE NOT (SELECT yes FROM settled) AND NOT (SELECT yes FROM few)
            AND ${matches} ${older}
       ), page AS (
         SELECT id FROM early WHERE (SELECT yes FROM settled)
         UNION ALL
         (SELECT id FROM indexed
           UNION ALL
          SELECT id FROM word_hits WHERE conversation_id IN (SELECT id FROM mine)
          ORDER BY id DESC LIMIT $3)
       )
       SELECT ${messageColumns('$1')},
              ts_headline('simple', m.body, (SELECT q FROM query), $4) AS marked
         FROM page JOIN messages m ON m.id = page.id
        ORDER BY m.id DESC`,
      params,
    );
  }
}
