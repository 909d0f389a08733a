import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { ConversationRow } from './conversation.view.js';

/** What a member's access checks need to know about a conversation. */
export interface Membership {
  type: 'direct' | 'group';
  ownerId: string | null;
  lastSeq: string;
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
         ARRAY(SELECT cm.user_id::text FROM conversation_members cm
                WHERE cm.conversation_id = c.id ORDER BY cm.user_id) AS "memberIds",
         (SELECT m.id FROM messages m
           WHERE m.conversation_id = c.id AND m.seq = c.last_seq) AS "lastMessageId"
    FROM conversation_members me
    JOIN conversations c ON c.id = me.conversation_id
   WHERE me.user_id = $1`;

@Injectable()
export class ConversationsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async findForMember(userId: string, conversationId: string): Promise<ConversationRow | undefined> {
    const rows = await this.dataSource.query(`${CONVERSATION_SELECT} AND c.id = $2`, [userId, conversationId]);
    return rows[0];
  }

  /** A member's conversations, most recently active first, after the (updatedAt, id) key. */
  async listForMember(
    userId: string,
    limit: number,
    after?: { updatedAt: string; id: string },
  ): Promise<ConversationRow[]> {
    const params: unknown[] = [userId, limit];
    let keyset = '';
    if (after) {
      params.push(after.updatedAt, after.id);
      keyset = `AND (c.updated_at, c.id) < ($3::timestamptz, $4::bigint)`;
    }
    return this.dataSource.query(
      `${CONVERSATION_SELECT} ${keyset} ORDER BY c.updated_at DESC, c.id DESC LIMIT $2`,
      params,
    );
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
   * Adds those of `userIds` who are not members yet, and returns how many that was; they start
   * with everything before as read. The conversation row is locked first, so membership
   * changes and message sends into one conversation are serialised. It is touched only if
   * someone was added: adding members it already has changes nothing, and must not move it up
   * everyone's list.
   */
  async addMembers(conversationId: string, userIds: string[]): Promise<number> {
    const [{ added }] = await this.dataSource.query(
      `WITH locked AS (
         SELECT id, last_seq FROM conversations WHERE id = $1 FOR UPDATE
       ), added AS (
         INSERT INTO conversation_members (conversation_id, user_id, last_read_seq)
         SELECT locked.id, u, locked.last_seq FROM locked, unnest($2::bigint[]) AS u
         ON CONFLICT DO NOTHING
         RETURNING user_id
       ), touched AS (
         UPDATE conversations SET updated_at = now() WHERE id = $1 AND EXISTS (SELECT 1 FROM added)
       )
       SELECT count(*)::int AS added FROM added`,
      [conversationId, userIds],
    );
    return added;
  }

  /** Removes a member; an owner who leaves hands the group to its longest-standing member. */
  async removeMember(conversationId: string, userId: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`UPDATE conversations SET updated_at = now() WHERE id = $1`, [conversationId]);
      const removed = await manager.query(
        `WITH removed AS (
           DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2 RETURNING user_id
         ) SELECT user_id FROM removed`,
        [conversationId, userId],
      );
      if (removed.length === 0) return false;
      await manager.query(
        `UPDATE conversations SET owner_id = (
           SELECT user_id FROM conversation_members WHERE conversation_id = $1
            ORDER BY joined_at, user_id LIMIT 1)
          WHERE id = $1 AND owner_id = $2`,
        [conversationId, userId],
      );
      return true;
    });
  }

  /** Moves a read marker forward (never back, never past the last message); undefined if not a member. */
  async markRead(userId: string, conversationId: string, seq: number): Promise<number | undefined> {
    const rows = await this.dataSource.query(
      `WITH marked AS (
         UPDATE conversation_members me
            SET last_read_seq = GREATEST(me.last_read_seq, LEAST($3::bigint, c.last_seq))
           FROM conversations c
          WHERE me.conversation_id = $2 AND me.user_id = $1 AND c.id = me.conversation_id
         RETURNING me.last_read_seq
       ) SELECT last_read_seq AS "lastReadSeq" FROM marked`,
      [userId, conversationId, seq],
    );
    return rows[0] ? Number(rows[0].lastReadSeq) : undefined;
  }
}
