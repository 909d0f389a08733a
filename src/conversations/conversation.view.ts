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
export interface ConversationView {
  id: string;
  type: ConversationType;
  title: string | null;
  ownerId: string | null;
  memberIds: string[];
  lastSeq: number;
  lastChangeSeq: number;
  lastMessageId: string | null;
  lastReadSeq: number;
  unreadCount: number;
  createdAt: string;
  updatedAt: string;
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
