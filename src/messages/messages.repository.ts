import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Caller } from '../auth/auth-user.js';
import { Batcher, inInputOrder } from '../common/batcher.js';
import { isStatementRefused } from '../common/pg-errors.js';
import { PreparedQueries, type PreparedStatement } from '../database/prepared-queries.js';
import { Metrics } from '../metrics/metrics.service.js';
import type { Message } from './message.entity.js';

const MESSAGE_COLUMNS = `
  id, conversation_id AS "conversationId", seq, change_seq AS "changeSeq", sender_id AS "senderId",
  body, client_message_id AS "clientMessageId", created_at AS "createdAt",
  edited_at AS "editedAt", deleted_at AS "deletedAt"`;

export type HistoryRange = { before?: number; after?: number };

/** A message just stored, with the ids of its conversation's members. */
export type SentMessage = Message & { memberIds: string[] };

/** One message to store: the sender as its token says, and what it sends. */
interface SendInput {
  conversationId: string;
  sender: Caller;
  body: string;
  clientMessageId?: string;
}

// The send_messages migration explains the function: locks, checks, seqs, members.
const SEND_BATCH: PreparedStatement = {
  name: 'messages_send_batch',
  text: `SELECT item, ${MESSAGE_COLUMNS}, member_ids AS "memberIds"
           FROM send_messages($1::bigint[], $2::bigint[], $3::integer[], $4::text[], $5::text[])`,
};

/**
 * Sends gathered into one statement while an earlier one runs. One at a time: in interleaved
 * benchmark runs on a 2-core machine (README, Performance), one in flight stored the most
 * messages with the lowest latency, ahead of two and of four; the database's share of the
 * machine is then one busy backend, leaving the rest to HTTP and the sockets. The cost: a
 * batch that waits for a lock (a conversation held by another transaction) holds back the
 * sends behind it, for at most the function's lock_timeout (the send-lock-timeout migration).
 */
const SEND_BATCHES_IN_FLIGHT = 1;
const SEND_BATCH_MAX = 128;

// Each (message, caller) pair of the batch: the message if the caller is a member of its
// conversation and active at its token's version.
const FIND_VISIBLE_BATCH: PreparedStatement = {
  name: 'messages_find_visible_batch',
  text: `SELECT r.item, ${MESSAGE_COLUMNS}
           FROM unnest($1::bigint[], $2::bigint[], $3::integer[]) WITH ORDINALITY AS r (message_id, caller_id, token_version, item)
           JOIN messages m ON m.id = r.message_id
          WHERE EXISTS (SELECT 1 FROM conversation_members cm
                         WHERE cm.conversation_id = m.conversation_id AND cm.user_id = r.caller_id)
            AND EXISTS (SELECT 1 FROM users u WHERE u.id = r.caller_id AND u.active AND u.token_version = r.token_version)`,
};

/** Reads of single messages (every notified client GETs one), batched like sends. */
const READ_BATCHES_IN_FLIGHT = 1;
const READ_BATCH_MAX = 128;

/** Messages, read and written with hand-written SQL: these are the hot paths. */
@Injectable()
export class MessagesRepository {
  private readonly sends: Batcher<SendInput, SentMessage | undefined>;
  private readonly reads: Batcher<{ caller: Caller; messageId: string }, Message | undefined>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly prepared: PreparedQueries,
    metrics: Metrics,
  ) {
    this.sends = new Batcher((inputs) => this.insertBatch(inputs), {
      maxInFlight: SEND_BATCHES_IN_FLIGHT,
      maxBatch: SEND_BATCH_MAX,
      canRetryAlone: isStatementRefused,
      onBatch: (size) => metrics.sendBatchSize.observe(size),
    });
    this.reads = new Batcher((inputs) => this.findVisibleBatch(inputs), {
      maxInFlight: READ_BATCHES_IN_FLIGHT,
      maxBatch: READ_BATCH_MAX,
      canRetryAlone: isStatementRefused,
    });
  }

  /**
   * Takes the conversation's next seq and stores the message. Concurrent sends share one
   * statement (see Batcher and the send_messages migration): the conversation's row is locked
   * until the commit, so seqs commit in order with no gaps, and a failure rolls the counters
   * back with the messages. Sending also marks the conversation read up to the sender's own
   * message. The members to notify come back with it, read under that lock. Undefined when
   * the sender is not a member, is no longer active at its token's version (the caller check
   * of CallerCheckedByQuery), or has already sent this clientMessageId.
   */
  insert(conversationId: string, sender: Caller, body: string, clientMessageId?: string): Promise<SentMessage | undefined> {
    return this.sends.submit({ conversationId, sender, body, clientMessageId });
  }

  private async insertBatch(inputs: SendInput[]): Promise<(SentMessage | undefined)[]> {
    const rows = await this.prepared.rows<SentMessage & { item: string }>(SEND_BATCH, [
      inputs.map((input) => input.conversationId),
      inputs.map((input) => input.sender.id),
      inputs.map((input) => input.sender.tokenVersion),
      inputs.map((input) => input.body),
      inputs.map((input) => input.clientMessageId ?? null),
    ]);
    return inInputOrder(rows, inputs.length);
  }

  async exists(messageId: string): Promise<boolean> {
    const rows = await this.dataSource.query(`SELECT 1 FROM messages WHERE id = $1`, [messageId]);
    return rows.length > 0;
  }

  async findByClientMessageId(senderId: string, clientMessageId: string): Promise<Message | undefined> {
    const rows = await this.dataSource.query(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_id = $1 AND client_message_id = $2`,
      [senderId, clientMessageId],
    );
    return rows[0];
  }

  /**
   * The message if the caller is a member of its conversation, and active at its token's
   * version (the caller check of CallerCheckedByQuery).
   */
  findVisibleTo(caller: Caller, messageId: string): Promise<Message | undefined> {
    return this.reads.submit({ caller, messageId });
  }

  private async findVisibleBatch(inputs: { caller: Caller; messageId: string }[]): Promise<(Message | undefined)[]> {
    const rows = await this.prepared.rows<Message & { item: string }>(FIND_VISIBLE_BATCH, [
      inputs.map((input) => input.messageId),
      inputs.map((input) => input.caller.id),
      inputs.map((input) => input.caller.tokenVersion),
    ]);
    return inInputOrder(rows, inputs.length);
  }

  /**
   * Edits a live message. The conversation row is locked first (by taking the next change
   * seq), as every write to a conversation does, so the check that the message is not deleted
   * cannot race a delete. Undefined (and nothing changed) if it was deleted.
   */
  editBody(messageId: string, body: string): Promise<Message | undefined> {
    return this.change(messageId, `body = $2, edited_at = now()`, [body]);
  }

  /** Deletes a live message, leaving a tombstone. Undefined if it was already deleted. */
  tombstone(messageId: string): Promise<Message | undefined> {
    return this.change(messageId, `body = NULL, deleted_at = now()`, []);
  }

  /** A page of history: newest first, or oldest first when reading forward from `after`. */
  async history(conversationId: string, range: HistoryRange, limit: number): Promise<Message[]> {
    const params: unknown[] = [conversationId, limit];
    const conditions = ['conversation_id = $1'];
    if (range.after !== undefined) conditions.push(`seq > $${params.push(range.after)}`);
    if (range.before !== undefined) conditions.push(`seq < $${params.push(range.before)}`);
    const order = range.after !== undefined ? 'ASC' : 'DESC';
    return this.dataSource.query(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE ${conditions.join(' AND ')} ORDER BY seq ${order} LIMIT $2`,
      params,
    );
  }

  /** Messages created, edited or deleted after change `since`, in the order they changed. */
  async changesSince(conversationId: string, since: number, limit: number): Promise<Message[]> {
    return this.dataSource.query(
      `SELECT ${MESSAGE_COLUMNS} FROM messages
        WHERE conversation_id = $1 AND change_seq > $2 ORDER BY change_seq ASC LIMIT $3`,
      [conversationId, since, limit],
    );
  }

  private change(messageId: string, assignments: string, values: unknown[]): Promise<Message | undefined> {
    return this.dataSource.transaction(async (manager) => {
      const [conversation] = await manager.query(
        `WITH bumped AS (
           UPDATE conversations SET last_change_seq = last_change_seq + 1
            WHERE id = (SELECT conversation_id FROM messages WHERE id = $1)
           RETURNING last_change_seq
         ) SELECT last_change_seq AS "changeSeq" FROM bumped`,
        [messageId],
      );
      if (!conversation) return undefined;
      const changeSeqParam = `$${values.length + 2}`;
      const [message] = await manager.query(
        `WITH changed AS (
           UPDATE messages SET ${assignments}, change_seq = ${changeSeqParam}
            WHERE id = $1 AND deleted_at IS NULL
           RETURNING *
         ) SELECT ${MESSAGE_COLUMNS} FROM changed`,
        [messageId, ...values, conversation.changeSeq],
      );
      // Nothing to change: roll the counter back so the feed does not skip a number.
      if (!message) throw new NothingChanged();
      return message;
    }).catch((error) => {
      if (error instanceof NothingChanged) return undefined;
      throw error;
    });
  }
}

class NothingChanged extends Error {}
