import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { AttachmentFacts } from '../attachments/attachment.view.js';

/** `text`: sent by a member. `system`: a membership or title change, recorded by the server. */
export type MessageKind = 'text' | 'system';

/** What a system message records. Ids are decimal strings, as everywhere in the API. */
export type SystemEvent =
  | { type: 'members.added'; actorId: string; userIds: string[] }
  | { type: 'member.removed'; actorId: string; userIds: string[] }
  | { type: 'member.left'; actorId: string }
  | { type: 'title.changed'; actorId: string; title: string };

@Entity('messages')
export class Message {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column('bigint', { name: 'conversation_id' })
  conversationId: string;

  @Column('bigint')
  seq: string;

  /**
   * The conversation's change counter when this message last changed (sent, edited, deleted,
   * reacted to, pinned or unpinned, or, for a thread's root, replied to).
   */
  @Column('bigint', { name: 'change_seq' })
  changeSeq: string;

  @Column('bigint', { name: 'sender_id' })
  senderId: string;

  /** Null once deleted: the message stays in history as a tombstone. */
  @Column('text', { nullable: true })
  body: string | null;

  @Column('text', { name: 'client_message_id', nullable: true })
  clientMessageId: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'edited_at', nullable: true })
  editedAt: Date | null;

  @Column('timestamptz', { name: 'deleted_at', nullable: true })
  deletedAt: Date | null;

  /** The message this one answers (of the same conversation). */
  @Column('bigint', { name: 'reply_to_id', nullable: true })
  replyToId: string | null;

  /** The root of the thread a reply belongs to; null for a message that answers none. */
  @Column('bigint', { name: 'thread_id', nullable: true })
  threadId: string | null;

  /** On a thread's root: its replies, deleted ones included. */
  @Column('integer', { name: 'reply_count' })
  replyCount: number;

  @Column('timestamptz', { name: 'last_reply_at', nullable: true })
  lastReplyAt: Date | null;

  /** The members named as `@username` in the body (none once deleted). */
  @Column('bigint', { name: 'mentioned_user_ids', array: true })
  mentionedUserIds: string[];

  /** `[emoji, count]` pairs, in the order each emoji was first added (none once deleted). */
  @Column('jsonb')
  reactions: [string, number][];

  @Column('timestamptz', { name: 'pinned_at', nullable: true })
  pinnedAt: Date | null;

  @Column('bigint', { name: 'pinned_by', nullable: true })
  pinnedBy: string | null;
  @Column('text')
  kind: MessageKind;

  /** System messages only: what changed, and who changed it (also the sender). */
  @Column('jsonb', { nullable: true })
  event: SystemEvent | null;

  /** Not a column: the reads add it (attachmentsOfMessage); null or absent when there are none. */
  attachments?: AttachmentFacts[] | null;
}
