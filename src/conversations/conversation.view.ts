import { ApiProperty } from '@nestjs/swagger';
import { NEXT_CURSOR_DOC } from '../common/api-docs.js';
import type { ConversationType } from './conversation.entity.js';

/** A conversation as one member sees it, read in one query by ConversationsRepository. */
export interface ConversationRow {
  id: string;
  type: ConversationType;
  title: string | null;
  ownerId: string | null;
  memberIds: string[];
  lastSeq: string;
  lastChangeSeq: string;
  lastMessageId: string | null;
  lastReadSeq: string;
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

  @ApiProperty({ description: 'The caller has read up to this seq' })
  lastReadSeq: number;

  @ApiProperty({ description: 'lastSeq - lastReadSeq' })
  unreadCount: number;

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

export function toConversationView(row: ConversationRow): ConversationView {
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
    lastReadSeq,
    // Seqs are gapless, so this is exact without counting rows. Sending advances the sender's
    // own marker, so a user's own messages are never unread; deleted ones still count.
    unreadCount: Math.max(0, lastSeq - lastReadSeq),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
