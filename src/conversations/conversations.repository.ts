import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { Message, SystemEvent } from '../messages/message.entity.js';
import { messageColumns } from '../messages/messages.repository.js';
import { LAST_MESSAGE_PREFIX, type ConversationRow, type ReceiptRow } from './conversation.view.js';

/** What a member's access checks need to know about a conversation. */
export interface Membership {
  type: 'direct' | 'group';
  ownerId: string | null;
  lastSeq: string;
}

/** A membership or title change, with the system message that records it (if anything changed). */
export interface ConversationChange {
  /** The system message, committed with the change; undefined when nothing changed. */
  message?: Message;
  /** The members after the change, read under the conversation's lock. */
  memberIds: string[];
}

/** How a read marker moved, and who is to hear of it. */
export interface ReadMarkerMove {
  lastReadSeq: number;
  /** Whether the marker moved forward (false: it was already there or further). */
  moved: boolean;
  /** Whether the reader shares read receipts with the other members. */
  sharesReceipts: boolean;
  /** Only when the marker moved: each other member, its own read marker, and whether it is an admin. */
  others: { userId: string; lastReadSeq: number; admin: boolean }[];
}

// A conversation as seen by member $1. Every query here ends in a SELECT, so `query()`
// returns plain rows whatever the statement modifies on the way.
const CONVERSATION_SELECT = `
  SELECT c.id, c.type, c.title, c.owner_id AS "ownerId",
         c.last_seq AS "lastSeq", c.last_change_seq AS "lastChangeSeq",
         c.created_at AS "createdAt", c.updated_at AS "updatedAt",
         -- Full microseconds for list cursors (a JavaScript Date keeps milliseconds).
         c.updated_at::text AS "updatedAtKey",
         me.last_read_seq AS "lastReadSeq",
         me.muted,
         -- The member's mentions past its marker, on message_mentions' key: never a scan of messages.
         (SELECT count(*)::int FROM message_mentions mm
           WHERE mm.user_id = me.user_id AND mm.conversation_id = c.id AND mm.seq > me.last_read_seq) AS "mentionCount",
         ARRAY(SELECT cm.user_id::text FROM conversation_members cm
                WHERE cm.conversation_id = c.id ORDER BY cm.user_id) AS "memberIds"
    FROM conversation_members me
    -- Each conversation by its key, after the member rows are chosen: the planner cannot count
    -- the list's candidates (a bound it computes at run time), and guessing hundreds it hashed
    -- every conversation of the installation.
   CROSS JOIN LATERAL (SELECT * FROM conversations WHERE id = me.conversation_id OFFSET 0) c
   WHERE me.user_id = $1`;

/**
 * The conversations `page` selects (CONVERSATION_SELECT with its conditions, order and limit),
 * each with its newest message: one index lookup by (conversation_id, seq) per conversation of
 * the page, after the page is cut, in the same statement (no query per conversation).
 */
const withLastMessage = (page: string) => `
  SELECT page.*, lm.id AS "lastMessageId", ${messageColumns('$1', 'lm', LAST_MESSAGE_PREFIX)}
    FROM (${page}) page
    LEFT JOIN messages lm ON lm.conversation_id = page.id AND lm.seq = page."lastSeq"
   ORDER BY page."updatedAt" DESC, page.id DESC`;

/**
 * Records a change in the conversation's history as a system message, inside the transaction
 * of the change, after the conversation's row is locked: it takes the next seq and change seq
 * and moves the conversation up everyone's list, as a sent message does, and marks the
 * conversation read up to it for the actor (if still a member), as a send does for its sender.
 * A statement on `messages` outside MessagesRepository: the change and its record must commit
 * together, and this module cannot depend on the messages module (which depends on it).
 */
const APPEND_SYSTEM_MESSAGE = `
  WITH bumped AS (
    UPDATE conversations
       SET last_seq = last_seq + 1, last_change_seq = last_change_seq + 1, updated_at = now()
     WHERE id = $1
    RETURNING id, last_seq, last_change_seq
  ), stored AS (
    INSERT INTO messages (conversation_id, seq, change_seq, sender_id, body, kind, event)
    SELECT id, last_seq, last_change_seq, $2, NULL, 'system', $3::jsonb FROM bumped
    RETURNING *
  ), actor_read AS (
    UPDATE conversation_members me SET last_read_seq = s.seq
      FROM stored s
     WHERE me.conversation_id = $1 AND me.user_id = $2 AND me.last_read_seq < s.seq
  )
  SELECT ${messageColumns('NULL', 's')} FROM stored s`;

/** How far a member row's `activity_at` may lag `updated_at`: as in the conversation-list-activity migration. */
const ACTIVITY_LAG = `interval '1 second'`;
const MAX_BIGINT = '9223372036854775807';

@Injectable()
export class ConversationsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async findForMember(userId: string, conversationId: string): Promise<ConversationRow | undefined> {
    const rows = await this.dataSource.query(withLastMessage(`${CONVERSATION_SELECT} AND me.conversation_id = $2`), [userId, conversationId]);
    return rows[0];
  }

  /**
   * A member's conversations, most recently active first, after the (updatedAt, id) key: a page
   * costs what it returns, whatever the member's number of conversations.
   *
   * Through the index on the member rows' `activity_at`, which lags `updated_at` by less than
   * ACTIVITY_LAG (the conversation-list-activity migration). Among the member rows older than
   * the cursor by ACTIVITY_LAG (so surely before it), the `limit`-th newest bounds the page: a
   * conversation whose `activity_at` is ACTIVITY_LAG older than that one's was updated before
   * all `limit` of them. Only the candidates above that bound are read and ordered exactly.
   */
  async listForMember(
    userId: string,
    limit: number,
    after?: { updatedAt: string; id: string },
  ): Promise<ConversationRow[]> {
    const params = [userId, limit, after?.updatedAt ?? 'infinity', after?.id ?? MAX_BIGINT];
    return this.dataSource.query(
      withLastMessage(`${CONVERSATION_SELECT}
         AND me.activity_at >= (
               SELECT coalesce((SELECT older.activity_at FROM conversation_members older
                                 WHERE older.user_id = $1 AND older.activity_at < $3::timestamptz - ${ACTIVITY_LAG}
                                 ORDER BY older.activity_at DESC OFFSET $2 - 1 LIMIT 1), '-infinity') - ${ACTIVITY_LAG})
         AND me.activity_at <= $3::timestamptz
         AND (c.updated_at, c.id) < ($3::timestamptz, $4::bigint)
       ORDER BY c.updated_at DESC, c.id DESC LIMIT $2`),
      params,
    );
  }

  /**
   * Sets the member's `muted`, and with it whether a push goes to it (see the web-push
   * migration: a member is pushed to if it has a subscription and has not muted). False when the
   * user is no member of the conversation.
   */
  async setMuted(userId: string, conversationId: string, muted: boolean): Promise<boolean> {
    const rows = await this.dataSource.query(
      `WITH changed AS (
         UPDATE conversation_members
            SET muted = $3, push = NOT $3 AND EXISTS (SELECT FROM push_subscriptions s WHERE s.user_id = $1)
          WHERE user_id = $1 AND conversation_id = $2
         RETURNING 1
       ) SELECT 1 FROM changed`,
      [userId, conversationId, muted],
    );
    return rows.length > 0;
  }

  async findMembership(userId: string, conversationId: string): Promise<Membership | undefined> {
    const rows = await this.dataSource.query(
      `SELECT c.type, c.owner_id AS "ownerId", c.last_seq AS "lastSeq"
         FROM conversation_members me JOIN conversations c ON c.id = me.conversation_id
        WHERE me.user_id = $1 AND me.conversation_id = $2`,
      [userId, conversationId],
    );
    return rows[0];
  }

  async memberIds(conversationId: string, manager: EntityManager = this.dataSource.manager): Promise<string[]> {
    const rows: { userId: string }[] = await manager.query(
      `SELECT user_id::text AS "userId" FROM conversation_members WHERE conversation_id = $1`,
      [conversationId],
    );
    return rows.map((row) => row.userId);
  }

  /**
   * The direct conversation of a pair, created with both members if it does not exist yet.
   * One statement, so no transaction is held; a concurrent creator makes ours insert nothing,
   * and the caller reads the winner's row with a fresh snapshot.
   */
  async findOrCreateDirect(directKey: string, userIds: [string, string]): Promise<{ id: string; created: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const rows = await this.dataSource.query(
        `WITH created AS (
           INSERT INTO conversations (type, direct_key) VALUES ('direct', $1)
           ON CONFLICT (direct_key) DO NOTHING RETURNING id
         ), members AS (
           INSERT INTO conversation_members (conversation_id, user_id)
           SELECT created.id, u FROM created, unnest($2::bigint[]) AS u
         )
         SELECT id, true AS created FROM created
         UNION ALL
         SELECT id, false AS created FROM conversations WHERE direct_key = $1`,
        [directKey, userIds],
      );
      if (rows.length > 0 || attempt === 3) return rows[0];
    }
  }

  async createGroup(ownerId: string, title: string, memberIds: string[]): Promise<string> {
    const rows = await this.dataSource.query(
      `WITH created AS (
         INSERT INTO conversations (type, title, owner_id) VALUES ('group', $1, $2) RETURNING id
       ), members AS (
         INSERT INTO conversation_members (conversation_id, user_id)
         SELECT created.id, u FROM created, unnest($3::bigint[]) AS u
       )
       SELECT id FROM created`,
      [title, ownerId, memberIds],
    );
    return rows[0].id;
  }

  /**
   * Adds those of `userIds` who are not members yet; they start with everything before as read.
   * The conversation row is locked first, so membership changes and message sends into one
   * conversation are serialised. Only if someone was added is the change recorded (a
   * `members.added` system message, which also moves the conversation up everyone's list):
   * adding members it already has changes nothing.
   */
  addMembers(conversationId: string, actorId: string, userIds: string[]): Promise<ConversationChange> {
    return this.dataSource.transaction(async (manager) => {
      await this.lock(manager, conversationId);
      const added: { userId: string }[] = await manager.query(
        `WITH added AS (
           INSERT INTO conversation_members (conversation_id, user_id, last_read_seq)
           SELECT c.id, u, c.last_seq FROM conversations c, unnest($2::bigint[]) AS u WHERE c.id = $1
           ON CONFLICT DO NOTHING
           RETURNING user_id
         ) SELECT user_id::text AS "userId" FROM added ORDER BY user_id`,
        [conversationId, userIds],
      );
      const message = added.length > 0
        ? await this.appendSystemMessage(manager, conversationId, {
            type: 'members.added',
            actorId,
            userIds: added.map((row) => row.userId),
          })
        : undefined;
      return { message, memberIds: await this.memberIds(conversationId, manager) };
    });
  }

  /**
   * Removes a member, recorded as `member.left` when it removes itself and `member.removed`
   * otherwise; an owner who leaves hands the group to its longest-standing member. Undefined
   * if `userId` was not a member.
   */
  removeMember(conversationId: string, actorId: string, userId: string): Promise<ConversationChange | undefined> {
    return this.dataSource.transaction(async (manager) => {
      await this.lock(manager, conversationId);
      const removed = await manager.query(
        `WITH removed AS (
           DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2 RETURNING user_id
         ) SELECT user_id FROM removed`,
        [conversationId, userId],
      );
      if (removed.length === 0) return undefined;
      await manager.query(
        `UPDATE conversations SET owner_id = (
           SELECT user_id FROM conversation_members WHERE conversation_id = $1
            ORDER BY joined_at, user_id LIMIT 1)
          WHERE id = $1 AND owner_id = $2`,
        [conversationId, userId],
      );
      const event: SystemEvent = actorId === userId
        ? { type: 'member.left', actorId }
        : { type: 'member.removed', actorId, userIds: [userId] };
      const message = await this.appendSystemMessage(manager, conversationId, event);
      return { message, memberIds: await this.memberIds(conversationId, manager) };
    });
  }

  /**
   * Gives a group a new title, recorded as `title.changed`, if `ownerId` still owns it (checked
   * under the lock: ownership may have passed on since the caller's check). 'not-owner' if it
   * does not; no message when the title is already that.
   */
  rename(conversationId: string, ownerId: string, title: string): Promise<ConversationChange | 'not-owner'> {
    return this.dataSource.transaction(async (manager) => {
      const [locked] = await manager.query(
        `SELECT owner_id::text AS "ownerId", title FROM conversations WHERE id = $1 AND type = 'group' FOR UPDATE`,
        [conversationId],
      );
      if (!locked || locked.ownerId !== ownerId) return 'not-owner' as const;
      let message: Message | undefined;
      if (locked.title !== title) {
        await manager.query(`UPDATE conversations SET title = $2 WHERE id = $1`, [conversationId, title]);
        message = await this.appendSystemMessage(manager, conversationId, { type: 'title.changed', actorId: ownerId, title });
      }
      return { message, memberIds: await this.memberIds(conversationId, manager) };
    });
  }

  /**
   * Moves a read marker forward (never back, never past the last message); undefined if not a
   * member. When it moved, the other members come back with their own markers (the frame each
   * gets carries it) and whether each is an admin: read in the same statement, only then.
   */
  async markRead(userId: string, conversationId: string, seq: number): Promise<ReadMarkerMove | undefined> {
    const rows = await this.dataSource.query(
      `WITH target AS (
         SELECT me.last_read_seq AS before, LEAST($3::bigint, c.last_seq) AS wanted
           FROM conversation_members me JOIN conversations c ON c.id = me.conversation_id
          WHERE me.conversation_id = $2 AND me.user_id = $1
       ), moved AS (
         UPDATE conversation_members me SET last_read_seq = t.wanted
           FROM target t
          WHERE me.conversation_id = $2 AND me.user_id = $1 AND t.wanted > me.last_read_seq
         RETURNING me.last_read_seq
       )
       SELECT coalesce((SELECT last_read_seq FROM moved), t.before) AS "lastReadSeq",
              EXISTS (SELECT FROM moved) AS moved,
              u.share_read_receipts AS "sharesReceipts",
              CASE WHEN EXISTS (SELECT FROM moved) THEN
                (SELECT coalesce(json_agg(json_build_array(cm.user_id::text, cm.last_read_seq, o.role = 'admin')), '[]')
                   FROM conversation_members cm JOIN users o ON o.id = cm.user_id
                  WHERE cm.conversation_id = $2 AND cm.user_id <> $1)
              END AS others
         FROM target t, users u
        WHERE u.id = $1`,
      [userId, conversationId, seq],
    );
    const row = rows[0];
    if (!row) return undefined;
    const others: [string, number, boolean][] = row.others ?? [];
    return {
      lastReadSeq: Number(row.lastReadSeq),
      moved: row.moved,
      sharesReceipts: row.sharesReceipts,
      others: others.map(([id, lastReadSeq, admin]) => ({ userId: id, lastReadSeq: Number(lastReadSeq), admin })),
    };
  }

  /** Every member's read marker and when it last moved, with whether each shares them; empty unless `callerId` is a member. */
  receipts(callerId: string, conversationId: string): Promise<ReceiptRow[]> {
    return this.dataSource.query(
      `SELECT cm.user_id::text AS "userId", cm.last_read_seq AS "lastReadSeq", cm.read_at AS "readAt",
              u.share_read_receipts AS "sharesReceipts"
         FROM conversation_members cm JOIN users u ON u.id = cm.user_id
        WHERE cm.conversation_id = $2
          AND EXISTS (SELECT FROM conversation_members me WHERE me.conversation_id = $2 AND me.user_id = $1)
        ORDER BY cm.user_id`,
      [callerId, conversationId],
    );
  }

  /** Takes the conversation's row lock, which every write to a conversation takes first. */
  private async lock(manager: EntityManager, conversationId: string): Promise<void> {
    await manager.query(`SELECT FROM conversations WHERE id = $1 FOR UPDATE`, [conversationId]);
  }

  private async appendSystemMessage(manager: EntityManager, conversationId: string, event: SystemEvent): Promise<Message> {
    const [message] = await manager.query(APPEND_SYSTEM_MESSAGE, [conversationId, event.actorId, JSON.stringify(event)]);
    return message;
  }
}
