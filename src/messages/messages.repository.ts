import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AttachmentsRepository, attachmentsOfMessage } from '../attachments/attachments.repository.js';
import type { Caller } from '../common/caller/caller.js';
import { Batcher, inInputOrder } from '../common/batcher.js';
import { isStatementRefused } from '../common/pg-errors.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.service.js';
import { mentionTokens } from './mentions.js';
import type { MessageKind } from './message.entity.js';
import type { MessageRow } from './message.view.js';
import { sendBatching } from './send-batching.js';
import type { SendTimeline } from './send-trace.js';

/** Each column of `messages` a `MessageRow` holds, as `[SQL expression on alias m, field]`. */
const COLUMNS: [expression: string, field: string][] = [
  ['m.id', 'id'],
  ['m.conversation_id', 'conversationId'],
  ['m.seq', 'seq'],
  ['m.change_seq', 'changeSeq'],
  ['m.sender_id', 'senderId'],
  ['m.body', 'body'],
  ['m.client_message_id', 'clientMessageId'],
  ['m.created_at', 'createdAt'],
  ['m.edited_at', 'editedAt'],
  ['m.deleted_at', 'deletedAt'],
  ['m.kind', 'kind'],
  ['m.event', 'event'],
  ['m.reply_to_id', 'replyToId'],
  ['m.thread_id', 'threadId'],
  ['m.reply_count', 'replyCount'],
  ['m.last_reply_at', 'lastReplyAt'],
  ['m.mentioned_user_ids::text[]', 'mentionedUserIds'],
  ['m.reactions', 'reactions'],
  ['m.pinned_at', 'pinnedAt'],
  ['m.pinned_by', 'pinnedBy'],
];

/**
 * A message's columns as a `MessageRow`, the table aliased `alias` (default `m`) and each field
 * named `<prefix><field>` (a conversation's last message comes back beside the conversation's
 * own), with `reacted` for the caller named by `caller` (a parameter or column): the emoji it
 * reacted with, and its attachments. A message nobody reacted to skips that look-up, and one
 * that never carried attachments skips theirs (attachmentsOfMessage).
 */
export function messageColumns(caller: string, alias = 'm', prefix = ''): string {
  const on = (expression: string) => expression.replace(/\bm\./g, `${alias}.`);
  const reacted = `CASE WHEN m.reactions = '[]'::jsonb THEN '{}'::text[]
       ELSE ARRAY(SELECT mr.emoji FROM message_reactions mr WHERE mr.message_id = m.id AND mr.user_id = ${caller}::bigint)
  END`;
  return [...COLUMNS, [reacted, 'reacted'] as [string, string], [attachmentsOfMessage('m'), 'attachments'] as [string, string]].map(([expression, field]) => `${on(expression)} AS "${prefix}${field}"`).join(',\n  ');
}

export type HistoryRange = { before?: number; after?: number };

/** A message that a write changed (rather than created): what its members are told of it. */
export interface ChangedMessage {
  id: string;
  conversationId: string;
  seq: string;
  changeSeq: string;
  memberIds: string[];
}

/**
 * A message just stored, with the ids of its conversation's members, and, for the first reply
 * of its batch to a thread, that thread's root as the batch changed it (its reply count).
 */
export type SentMessage = MessageRow & { memberIds: string[]; threadRoot?: ChangedMessage };

/** One message to store: the sender as its token says, and what it sends. */
interface SendInput {
  conversationId: string;
  sender: Caller;
  body: string;
  clientMessageId?: string;
  replyToId?: string;
  /** Where the send's timeline is kept while SEND_TRACE_FILE is set. */
  timeline?: SendTimeline;
}

// The send_messages migrations explain the function: locks, checks, seqs, replies, mentions,
// members. It stores text messages only.
const SEND_BATCH = `SELECT item, id, conversation_id AS "conversationId", seq, change_seq AS "changeSeq", sender_id AS "senderId",
       body, client_message_id AS "clientMessageId", created_at AS "createdAt", edited_at AS "editedAt",
       deleted_at AS "deletedAt", reply_to_id AS "replyToId", thread_id AS "threadId",
       mentioned_user_ids::text[] AS "mentionedUserIds", 'text' AS kind, NULL::jsonb AS event, member_ids AS "memberIds"
  FROM send_messages($1::bigint[], $2::bigint[], $3::integer[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::text[])`;

/** What a message just stored has before anyone reacts to it, answers it or pins it. */
const untouched = () => ({ replyCount: 0, lastReplyAt: null, reactions: [] as [string, number][], pinnedAt: null, pinnedBy: null, reacted: [] as string[] });


// Each (message, caller) pair of the batch: the message if the caller is a member of its
// conversation, active at its token's version, and its session has not ended. Each message is
// read by its key whatever the planner knows (OFFSET 0 keeps the subquery apart): on tables
// without statistics yet (a new database's first minute), it walked every message of the
// callers' conversations instead, and a read took 100 ms and more.
export const FIND_VISIBLE_BATCH = `SELECT r.item, ${messageColumns('r.caller_id')}
  FROM unnest($1::bigint[], $2::bigint[], $3::integer[], $4::bigint[])
       WITH ORDINALITY AS r (message_id, caller_id, token_version, session_id, item)
 CROSS JOIN LATERAL (SELECT * FROM messages WHERE id = r.message_id OFFSET 0) m
 WHERE EXISTS (SELECT 1 FROM conversation_members cm
                WHERE cm.conversation_id = m.conversation_id AND cm.user_id = r.caller_id)
   AND EXISTS (SELECT 1 FROM users u WHERE u.id = r.caller_id AND u.active AND u.token_version = r.token_version)
   AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = r.session_id AND s.user_id = r.caller_id AND s.ended_at IS NULL)`;

/** The most pins a conversation holds (API-next B). */
export const MAX_PINS = 50;

/** What pinning or unpinning came to. */
export type PinOutcome = ChangedMessage | 'unchanged' | 'not-found' | 'deleted' | 'too-many';

/** Reads of single messages (every notified client GETs one), batched like sends. */
const READ_BATCHES_IN_FLIGHT = 1;
const READ_BATCH_MAX = 128;

/** Messages, read and written with hand-written SQL: these are the hot paths. */
@Injectable()
export class MessagesRepository {
  private readonly sends: Batcher<SendInput, SentMessage | undefined>;
  private readonly reads: Batcher<{ caller: Caller; messageId: string }, MessageRow | undefined>;
  /** Send statements traced so far: each traced send names its statement by this. */
  private tracedBatches = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly attachments: AttachmentsRepository,
    metrics: Metrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.sends = new Batcher((inputs) => this.insertBatch(inputs), {
      ...sendBatching<SendInput>(config.sendBatchesInFlight),
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
   * statement (see Batcher and the send_messages migrations): the conversation's row is locked
   * until the commit, so seqs commit in order with no gaps, and a failure rolls the counters
   * back with the messages. Sending also marks the conversation read up to the sender's own
   * message, stores the members the body mentions, and, for a reply, moves its thread root's
   * reply count. The members to notify come back with it, read under that lock. Undefined when
   * the sender is not a member, is no longer active at its token's version or its session has
   * ended (the caller check of CallerCheckedByQuery), has already sent this clientMessageId, or
   * answers a message that is not one of the conversation's (or accepts no replies).
   */
  insert(
    conversationId: string,
    sender: Caller,
    body: string,
    clientMessageId?: string,
    replyToId?: string,
    timeline?: SendTimeline,
  ): Promise<SentMessage | undefined> {
    if (timeline) Object.assign(timeline, { conversationId, submitted: performance.now() });
    return this.sends.submit({ conversationId, sender, body, clientMessageId, replyToId, timeline });
  }

  /**
   * A send that attaches uploads (`attachmentIds`): not batched, one transaction of its own that
   * stores the message as a batch of one (send_messages, with all its checks) and claims the
   * attachments (the sender's own, stored, not attached elsewhere). Undefined as `insert`;
   * throws AttachmentsNotAvailable, having stored nothing, when any attachment cannot be claimed.
   */
  insertWithAttachments(
    conversationId: string,
    sender: Caller,
    body: string,
    clientMessageId: string | undefined,
    replyToId: string | undefined,
    attachmentIds: readonly string[],
  ): Promise<SentMessage | undefined> {
    return this.dataSource.transaction(async (manager) => {
      const [sent] = await this.insertBatch([{ conversationId, sender, body, clientMessageId, replyToId }], manager);
      if (!sent) return undefined;
      const attachments = await this.attachments.claimForMessage(manager, sent.id, sender.id, attachmentIds);
      // Its reads look its attachments up (attachmentsOfMessage).
      await manager.query(`UPDATE messages SET has_attachments = true WHERE id = $1`, [sent.id]);
      return { ...sent, attachments };
    });
  }

  private async insertBatch(inputs: SendInput[], runner: DataSource | EntityManager = this.dataSource): Promise<(SentMessage | undefined)[]> {
    // Stamped only while tracing (SEND_TRACE_FILE): nothing more on the send path otherwise.
    if (!inputs.some((input) => input.timeline)) return this.runSendBatch(inputs, runner);
    const batch = ++this.tracedBatches;
    const running = this.sends.running;
    const cut = performance.now();
    const sent = await this.runSendBatch(inputs, runner);
    const answered = performance.now();
    for (const { timeline } of inputs) {
      if (timeline) Object.assign(timeline, { batch, batchSize: inputs.length, batchesRunning: running, cut, answered });
    }
    return sent;
  }

  private async runSendBatch(inputs: SendInput[], runner: DataSource | EntityManager): Promise<(SentMessage | undefined)[]> {
    const rows: (SentMessage & { item: string | null })[] = await runner.query(SEND_BATCH, [
      inputs.map((input) => input.conversationId),
      inputs.map((input) => input.sender.id),
      inputs.map((input) => input.sender.tokenVersion),
      inputs.map((input) => input.sender.sessionId),
      inputs.map((input) => input.body),
      inputs.map((input) => input.clientMessageId ?? null),
      inputs.map((input) => input.replyToId ?? null),
      inputs.map((input) => mentionTokens(input.body)),
    ]);
    const stored = rows.filter((row) => row.item !== null).map((row) => ({ ...row, ...untouched(), item: row.item! }));
    // A root answered in the batch comes back once, as a row of no item: it goes with the
    // first of its replies, whose sender's request tells its members.
    for (const root of rows.filter((row) => row.item === null)) {
      const reply = stored.find((message) => message.threadId === root.id);
      if (reply) {
        reply.threadRoot = { id: root.id, conversationId: root.conversationId, seq: root.seq, changeSeq: root.changeSeq, memberIds: root.memberIds };
      }
    }
    return inInputOrder(stored, inputs.length);
  }

  /** The message's kind, or undefined if there is no such message. */
  async findKind(messageId: string): Promise<MessageKind | undefined> {
    const rows = await this.dataSource.query(`SELECT kind FROM messages WHERE id = $1`, [messageId]);
    return rows[0]?.kind;
  }

  async findByClientMessageId(senderId: string, clientMessageId: string): Promise<MessageRow | undefined> {
    const rows = await this.dataSource.query(
      `SELECT ${messageColumns('$1')} FROM messages m WHERE m.sender_id = $1 AND m.client_message_id = $2`,
      [senderId, clientMessageId],
    );
    return rows[0];
  }

  /**
   * Whether `messageId` may be answered in `conversationId`: `missing` when it is not a
   * message of that conversation, `refused` when it accepts no replies. For telling a caller
   * why a send was refused; the send itself checks it in its own statement.
   */
  async replyTarget(conversationId: string, messageId: string): Promise<'ok' | 'missing' | 'refused'> {
    const [row] = await this.dataSource.query(
      `SELECT message_accepts_responses(m) AS ok FROM messages m WHERE m.id = $1 AND m.conversation_id = $2`,
      [messageId, conversationId],
    );
    if (!row) return 'missing';
    return row.ok ? 'ok' : 'refused';
  }

  /**
   * The message if the caller is a member of its conversation, active at its token's version,
   * and in a session that has not ended (the caller check of CallerCheckedByQuery).
   */
  findVisibleTo(caller: Caller, messageId: string): Promise<MessageRow | undefined> {
    return this.reads.submit({ caller, messageId });
  }

  private async findVisibleBatch(inputs: { caller: Caller; messageId: string }[]): Promise<(MessageRow | undefined)[]> {
    const rows: (MessageRow & { item: string })[] = await this.dataSource.query(FIND_VISIBLE_BATCH, [
      inputs.map((input) => input.messageId),
      inputs.map((input) => input.caller.id),
      inputs.map((input) => input.caller.tokenVersion),
      inputs.map((input) => input.caller.sessionId),
    ]);
    return inInputOrder(rows, inputs.length);
  }

  /**
   * Edits a live text message, as `editorId` sees it. The conversation row is locked first (by
   * taking the next change seq), as every write to a conversation does, so the check that the
   * message is not deleted cannot race a delete. The mentions are those of the new body (its
   * rows in message_mentions go and come with it). Undefined (and nothing changed) if it was
   * deleted. System messages never change (the service refuses them first; the statement does
   * not touch them either).
   */
  editBody(messageId: string, editorId: string, body: string): Promise<MessageRow | undefined> {
    return this.change(messageId, (changeSeq) => editStatement(messageId, editorId, body, changeSeq));
  }

  /**
   * Edits a live message's attachments, and its body when given (as `editBody` does), making
   * `attachmentIds` its attachments in that order (AttachmentsRepository.replaceOnMessage).
   * Throws AttachmentsNotAvailable, or EmptyMessage for a message left with neither text nor
   * attachments, changing nothing.
   */
  editWithAttachments(messageId: string, editorId: string, body: string | undefined, attachmentIds: readonly string[]): Promise<MessageRow | undefined> {
    return this.change(
      messageId,
      (changeSeq) =>
        body === undefined
          ? touchStatement(messageId, editorId, changeSeq, 'edited_at = now(), has_attachments = true')
          : editStatement(messageId, editorId, body, changeSeq, 'has_attachments = true'),
      async (manager, message) => {
        const attachments = await this.attachments.replaceOnMessage(manager, messageId, editorId, attachmentIds);
        if (attachments.length === 0 && message.body === '') throw new EmptyMessage();
        return { ...message, attachments };
      },
    );
  }

  /**
   * Removes one attachment from the live message carrying it (moderation), moving the
   * message's change seq as an edit does, without marking it edited. Undefined when the message
   * was deleted meanwhile (its attachments went with it).
   */
  removeAttachment(messageId: string, attachmentId: string): Promise<MessageRow | undefined> {
    return this.change(
      messageId,
      (changeSeq) => touchStatement(messageId, null, changeSeq),
      async (manager, message) => {
        await this.attachments.markRemoved(attachmentId, manager);
        const [reread] = await manager.query(`SELECT ${attachmentsOfMessage('m')} AS attachments FROM messages m WHERE m.id = $1`, [messageId]);
        return { ...message, attachments: reread.attachments };
      },
    );
  }

  /**
   * Deletes a live message, leaving a tombstone: no body, and no reactions, mentions or pin.
   * Undefined if it was already deleted.
   */
  tombstone(messageId: string, callerId: string): Promise<MessageRow | undefined> {
    return this.change(messageId, (changeSeq) => [
      `WITH target AS (
         SELECT m.id, m.conversation_id, m.seq, m.mentioned_user_ids FROM messages m WHERE m.id = $1 AND m.deleted_at IS NULL
       ), changed AS (
         UPDATE messages m
            SET body = NULL, deleted_at = now(), reactions = '[]', mentioned_user_ids = '{}', pinned_at = NULL, pinned_by = NULL,
                change_seq = $2
          WHERE m.id = $1 AND m.deleted_at IS NULL AND m.kind = 'text'
         RETURNING m.*
       ), unreacted AS (
         DELETE FROM message_reactions r USING target t WHERE r.message_id = t.id
       ), gone AS (
         DELETE FROM message_mentions mm USING target t
          WHERE mm.user_id = ANY (t.mentioned_user_ids) AND mm.conversation_id = t.conversation_id AND mm.seq = t.seq
       ) SELECT ${messageColumns('$3')} FROM changed m`,
      [messageId, changeSeq, callerId],
    ]);
  }

  /** A page of history for `callerId`: newest first, or oldest first when reading forward from `after`. */
  async history(conversationId: string, callerId: string, range: HistoryRange, limit: number): Promise<MessageRow[]> {
    const params: unknown[] = [conversationId, limit, callerId];
    const conditions = ['m.conversation_id = $1'];
    if (range.after !== undefined) conditions.push(`m.seq > $${params.push(range.after)}`);
    if (range.before !== undefined) conditions.push(`m.seq < $${params.push(range.before)}`);
    const order = range.after !== undefined ? 'ASC' : 'DESC';
    return this.dataSource.query(
      `SELECT ${messageColumns('$3')} FROM messages m WHERE ${conditions.join(' AND ')} ORDER BY m.seq ${order} LIMIT $2`,
      params,
    );
  }

  /** Messages created or changed after change `since`, in the order they changed. */
  async changesSince(conversationId: string, callerId: string, since: number, limit: number): Promise<MessageRow[]> {
    return this.dataSource.query(
      `SELECT ${messageColumns('$4')} FROM messages m
        WHERE m.conversation_id = $1 AND m.change_seq > $2 ORDER BY m.change_seq ASC LIMIT $3`,
      [conversationId, since, limit, callerId],
    );
  }

  /** The replies of the thread rooted at `rootId` after seq `after`, oldest first. */
  async thread(rootId: string, callerId: string, after: number, limit: number): Promise<MessageRow[]> {
    return this.dataSource.query(
      `SELECT ${messageColumns('$4')} FROM messages m
        WHERE m.thread_id = $1 AND m.seq > $2 ORDER BY m.seq ASC LIMIT $3`,
      [rootId, after, limit, callerId],
    );
  }

  /** A conversation's pinned messages, newest pin first. */
  async pinned(conversationId: string, callerId: string): Promise<MessageRow[]> {
    return this.dataSource.query(
      `SELECT ${messageColumns('$2')} FROM messages m
        WHERE m.conversation_id = $1 AND m.pinned_at IS NOT NULL
        ORDER BY m.pinned_at DESC, m.id DESC LIMIT ${MAX_PINS}`,
      [conversationId, callerId],
    );
  }

  /**
   * Pins (or unpins) a message of `conversationId`. The conversation is locked before the
   * message and the conversation's pins are looked at, so two pins at once cannot both take
   * the last place. A change moves the message's change seq; nothing to change rolls back.
   */
  setPinned(conversationId: string, messageId: string, pinnedBy: string | null): Promise<PinOutcome> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE`, [conversationId]);
      const [message] = await manager.query(
        `SELECT m.pinned_at IS NOT NULL AS pinned, m.deleted_at IS NOT NULL AS deleted,
                (SELECT count(*)::int FROM messages p WHERE p.conversation_id = $2 AND p.pinned_at IS NOT NULL) AS pins
           FROM messages m WHERE m.id = $1 AND m.conversation_id = $2`,
        [messageId, conversationId],
      );
      if (!message) return 'not-found';
      const pinning = pinnedBy !== null;
      if (message.pinned === pinning) return 'unchanged';
      if (pinning && message.deleted) return 'deleted';
      if (pinning && message.pins >= MAX_PINS) return 'too-many';
      const [changed] = await manager.query(
        `WITH bumped AS (
           UPDATE conversations SET last_change_seq = last_change_seq + 1 WHERE id = $2 RETURNING last_change_seq
         ), changed AS (
           UPDATE messages SET pinned_at = CASE WHEN $3::bigint IS NULL THEN NULL ELSE now() END, pinned_by = $3,
                  change_seq = (SELECT last_change_seq FROM bumped)
            WHERE id = $1
           RETURNING id, conversation_id, seq, change_seq
         ) SELECT id, conversation_id AS "conversationId", seq, change_seq AS "changeSeq",
                  ARRAY(SELECT cm.user_id::text FROM conversation_members cm WHERE cm.conversation_id = $2) AS "memberIds"
             FROM changed`,
        [messageId, conversationId, pinnedBy],
      );
      return changed as ChangedMessage;
    });
  }

  /**
   * A change to one message: the conversation's next change seq is taken first (which locks
   * the conversation's row), then `statement(changeSeq)` runs with a fresh snapshot and
   * returns the changed message; when it changes nothing (the message was deleted meanwhile)
   * the counter goes back, so the feed does not skip a number.
   */
  private change(
    messageId: string,
    statement: (changeSeq: string) => [string, unknown[]],
    // Runs in the same transaction after the statement, and returns the message as it is then;
    // throwing rolls the whole change back.
    within?: (manager: EntityManager, message: MessageRow) => Promise<MessageRow>,
  ): Promise<MessageRow | undefined> {
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
      const [message] = await manager.query(...statement(conversation.changeSeq));
      if (!message) throw new NothingChanged();
      return within ? within(manager, message) : message;
    }).catch((error) => {
      if (error instanceof NothingChanged) return undefined;
      throw error;
    });
  }
}

class NothingChanged extends Error {}

/** An edit would leave a message with neither text nor attachments. */
export class EmptyMessage extends Error {}

/**
 * The edit of a live message's body, as `editorId` sees it: the mentions are those of the new
 * body (its rows in message_mentions go and come with it); `alsoSet` are further assignments.
 */
function editStatement(messageId: string, editorId: string, body: string, changeSeq: string, alsoSet?: string): [string, unknown[]] {
  return [
    `WITH target AS (
       SELECT m.id, m.conversation_id, m.seq, m.mentioned_user_ids FROM messages m
        WHERE m.id = $1 AND m.deleted_at IS NULL AND m.kind = 'text'
     ), named AS (
       SELECT CASE WHEN $3::text IS NULL THEN '{}'::bigint[] ELSE mentioned_members(t.conversation_id, $3::text) END AS ids
         FROM target t
     ), changed AS (
       UPDATE messages m SET body = $2, edited_at = now(), mentioned_user_ids = n.ids, change_seq = $4${alsoSet ? `, ${alsoSet}` : ''}
         FROM named n WHERE m.id = $1 AND m.deleted_at IS NULL AND m.kind = 'text'
       RETURNING m.*
     ), gone AS (
       DELETE FROM message_mentions mm USING target t, named n
        WHERE mm.user_id = ANY (t.mentioned_user_ids) AND NOT mm.user_id = ANY (n.ids)
          AND mm.conversation_id = t.conversation_id AND mm.seq = t.seq
     ), came AS (
       INSERT INTO message_mentions (user_id, conversation_id, seq)
       SELECT u.user_id, t.conversation_id, t.seq FROM target t, named n, unnest(n.ids) AS u (user_id)
        WHERE NOT u.user_id = ANY (t.mentioned_user_ids)
     ) SELECT ${messageColumns('$5')} FROM changed m`,
    [messageId, body, mentionTokens(body), changeSeq, editorId],
  ];
}

/** A change of a live message that leaves its body as it is: its change seq moves, and `alsoSet`. */
function touchStatement(messageId: string, callerId: string | null, changeSeq: string, alsoSet?: string): [string, unknown[]] {
  return [
    `WITH changed AS (
       UPDATE messages m SET change_seq = $2${alsoSet ? `, ${alsoSet}` : ''}
        WHERE m.id = $1 AND m.deleted_at IS NULL AND m.kind = 'text' RETURNING m.*
     ) SELECT ${messageColumns('$3')} FROM changed m`,
    [messageId, changeSeq, callerId],
  ];
}
