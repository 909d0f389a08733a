import { ApiProperty } from '@nestjs/swagger';
import { NEXT_CURSOR_DOC } from '../common/api-docs.js';
import type { AttachmentLinks } from '../attachments/attachment-links.js';
import { MessageView, toMessageView, type MessageRow } from '../messages/message.view.js';
import type { ConversationType } from './conversation.entity.js';

/** The conversation's newest message comes back beside it, each field as `lastMessage.<field>`. */
export const LAST_MESSAGE_PREFIX = 'lastMessage.';

/**
 * A conversation as one member sees it, read in one query by ConversationsRepository, with its
 * newest message's fields (null when it has none).
 */
export interface ConversationRow extends Record<`${typeof LAST_MESSAGE_PREFIX}${string}`, unknown> {
  id: string;
  type: ConversationType;
  title: string | null;
  ownerId: string | null;
  memberIds: string[];
  lastSeq: string;
  lastChangeSeq: string;
  lastMessageId: string | null;
  lastReadSeq: string;
  mentionCount: number;
  muted: boolean;
  createdAt: Date;
  updatedAt: Date;
  updatedAtKey: string;
}

/** `conversation` in the contract, plus `ownerId` and `lastChangeSeq` (the changes feed). */
export class ConversationView {
  @ApiProperty({ example: '7' })
  id: string;

  @ApiProperty({ enum: ['direct', 'group'] })
  type: ConversationType;

  @ApiProperty({ type: String, nullable: true, description: 'Groups only', example: 'team' })
  title: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The owner of a group; null for direct conversations' })
  ownerId: string | null;

  @ApiProperty({ type: [String], example: ['42', '43'] })
  memberIds: string[];

  @ApiProperty({ description: 'The seq of the newest message (0: none yet)' })
  lastSeq: number;

  @ApiProperty({ description: 'The newest change (message, edit, delete); see the changes feed' })
  lastChangeSeq: number;

  @ApiProperty({ type: String, nullable: true })
  lastMessageId: string | null;

  @ApiProperty({ type: MessageView, nullable: true, description: 'The newest message (a system message or a tombstone included); null when there is none' })
  lastMessage: MessageView | null;

  @ApiProperty({ description: 'The caller has read up to this seq' })
  lastReadSeq: number;

  @ApiProperty({ description: 'lastSeq - lastReadSeq' })
  unreadCount: number;

  @ApiProperty({ description: 'Unread messages that mention the caller (@username)' })
  mentionCount: number;

  @ApiProperty({ description: 'The caller muted the conversation: no Web Push notifications of it' })
  muted: boolean;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time', description: 'Last activity: the order of the conversation list' })
  updatedAt: string;
}

export class ConversationPage {
  @ApiProperty({ type: [ConversationView] })
  items: ConversationView[];

  @ApiProperty(NEXT_CURSOR_DOC)
  nextCursor: string | null;
}

/** The conversation as `viewerId` sees it (its last message's attachment links are signed for that user). */
export function toConversationView(row: ConversationRow, links: AttachmentLinks, viewerId: string): ConversationView {
  const lastSeq = Number(row.lastSeq);
  const lastReadSeq = Number(row.lastReadSeq);
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    ownerId: row.ownerId,
    memberIds: row.memberIds ?? [],
    lastSeq,
    lastChangeSeq: Number(row.lastChangeSeq),
    lastMessageId: row.lastMessageId,
    lastMessage: row.lastMessageId === null ? null : toMessageView(lastMessageOf(row), links, viewerId),
    lastReadSeq,
    // Seqs are gapless, so this is exact without counting rows. Sending advances the sender's
    // own marker, so a user's own messages are never unread; deleted ones still count.
    unreadCount: Math.max(0, lastSeq - lastReadSeq),
    // Counted by the query on the index of mentions, past this member's read marker.
    mentionCount: row.mentionCount,
    muted: row.muted,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function lastMessageOf(row: ConversationRow): MessageRow {
  const message: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (key.startsWith(LAST_MESSAGE_PREFIX)) message[key.slice(LAST_MESSAGE_PREFIX.length)] = value;
  }
  return message as unknown as MessageRow;
}

/** One member's read marker, and whether the member shares it. */
export interface ReceiptRow {
  userId: string;
  lastReadSeq: string;
  readAt: Date | null;
  sharesReceipts: boolean;
}

export class ReceiptView {
  @ApiProperty({ example: '42' })
  userId: string;

  @ApiProperty({ type: Number, nullable: true, description: 'The member has read up to this seq; null to others when it does not share read receipts' })
  lastReadSeq: number | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When the marker last moved forward; null if it has not since receipts were recorded, or to others when the member does not share read receipts',
  })
  readAt: string | null;
}

export class ReceiptsView {
  @ApiProperty({ type: [ReceiptView], description: 'Every member, by user id' })
  items: ReceiptView[];
}

/** A member's receipt as `viewer` sees it: hidden from others when it does not share, but from admins. */
export function toReceiptView(row: ReceiptRow, viewer: { id: string; admin: boolean }): ReceiptView {
  const visible = row.sharesReceipts || row.userId === viewer.id || viewer.admin;
  return {
    userId: row.userId,
    lastReadSeq: visible ? Number(row.lastReadSeq) : null,
    readAt: visible ? (row.readAt?.toISOString() ?? null) : null,
  };
}
