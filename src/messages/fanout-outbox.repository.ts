import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { ChangedMessage } from './messages.repository.js';

/** A message whose frame an outbox row still owes, as the relay reads it now. */
export interface LeftMessage {
  id: string;
  conversationId: string;
  seq: string;
  changeSeq: string;
  memberIds: string[];
  threadRoot: ChangedMessage | null;
}

/** The rows of `fanout_outbox` (the fanout-outbox migration): written by a trigger, cleared here. */
@Injectable()
export class FanoutOutboxRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Deletes the rows of statements whose first message is among `messageIds` (all published). */
  async clear(messageIds: readonly string[]): Promise<void> {
    await this.dataSource.query(`DELETE FROM fanout_outbox WHERE first_id = ANY ($1::bigint[])`, [messageIds]);
  }

  /**
   * Takes up to `limit` rows older than `olderThanMs`, hands their messages to `announce` in
   * order of conversation and seq, and deletes them, in one transaction. Rows another instance
   * is relaying (or its sender clearing) are skipped, so each left row is relayed by one
   * instance; one that dies midway leaves its rows to the next. Returns how many messages.
   */
  async relay(olderThanMs: number, limit: number, announce: (messages: LeftMessage[]) => void): Promise<number> {
    // Nearly always nothing is left: one read, and no transaction.
    const [due] = await this.dataSource.query(
      `SELECT EXISTS (SELECT FROM fanout_outbox WHERE created_at < now() - make_interval(secs => $1::double precision / 1000)) AS yes`,
      [olderThanMs],
    );
    if (!due.yes) return 0;
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const relayed = await this.relayIn(runner.manager, olderThanMs, limit, announce);
      await runner.commitTransaction();
      return relayed;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }

  private async relayIn(manager: EntityManager, olderThanMs: number, limit: number, announce: (messages: LeftMessage[]) => void): Promise<number> {
    const rows: { firstId: string }[] = await manager.query(
      `SELECT first_id AS "firstId" FROM fanout_outbox
        WHERE created_at < now() - make_interval(secs => $1::double precision / 1000)
        ORDER BY first_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [olderThanMs, limit],
    );
    if (rows.length === 0) return 0;
    const firstIds = rows.map((row) => row.firstId);
    const messages: LeftMessage[] = await manager.query(
      `SELECT m.id::text, m.conversation_id::text AS "conversationId", m.seq::text, m.change_seq::text AS "changeSeq",
              ARRAY(SELECT cm.user_id::text FROM conversation_members cm WHERE cm.conversation_id = m.conversation_id) AS "memberIds",
              CASE WHEN r.id IS NULL THEN NULL ELSE json_build_object(
                'id', r.id::text, 'conversationId', r.conversation_id::text, 'seq', r.seq::text, 'changeSeq', r.change_seq::text,
                'memberIds', ARRAY(SELECT cm.user_id::text FROM conversation_members cm WHERE cm.conversation_id = r.conversation_id))
              END AS "threadRoot"
         FROM fanout_outbox o
        CROSS JOIN LATERAL unnest(o.message_ids) AS left_id (id)
         JOIN messages m ON m.id = left_id.id
         LEFT JOIN messages r ON r.id = m.thread_id
        WHERE o.first_id = ANY ($1::bigint[])
        ORDER BY m.conversation_id, m.seq`,
      [firstIds],
    );
    announce(messages);
    await manager.query(`DELETE FROM fanout_outbox WHERE first_id = ANY ($1::bigint[])`, [firstIds]);
    return messages.length;
  }
}
