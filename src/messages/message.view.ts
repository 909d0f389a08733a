import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { AttachmentLinks } from '../attachments/attachment-links.js';
import { AttachmentView } from '../attachments/attachment.view.js';
import type { Message, MessageKind, SystemEvent } from './message.entity.js';

/** What a system message records: `{type, actorId, userIds?, title?}`. */
export class SystemEventView {
  @ApiProperty({ enum: ['members.added', 'member.removed', 'member.left', 'title.changed'] })
  type: SystemEvent['type'];

  @ApiProperty({ description: 'The member who made the change (also the message\'s senderId)', example: '42' })
  actorId: string;

  @ApiPropertyOptional({ type: [String], description: 'members.added, member.removed: the members added or removed' })
  userIds?: string[];

  @ApiPropertyOptional({ description: 'title.changed: the new title' })
  title?: string;
}

/** A message as read for one caller: `reacted` holds the emoji that caller reacted with. */
export type MessageRow = Message & { reacted: string[] };

/** One emoji under a message. */
export class ReactionCount {
  @ApiProperty({ example: '👍', description: 'One emoji (one grapheme cluster)' })
  emoji: string;

  @ApiProperty({ example: 3, description: 'How many members reacted with it' })
  count: number;

  @ApiProperty({ description: 'Whether the caller is among them' })
  reacted: boolean;
}

/** `message` in the contract, plus `changeSeq` (its place in the conversation's changes feed). */
export class MessageView {
  @ApiProperty({ example: '1001' })
  id: string;

  @ApiProperty({ example: '7' })
  conversationId: string;

  @ApiProperty({ example: 12, description: '1, 2, 3, … within the conversation, no gaps, in commit order' })
  seq: number;

  @ApiProperty({ example: 15, description: "The conversation's change counter when this message last changed" })
  changeSeq: number;

  @ApiProperty({ example: '42' })
  senderId: string;

  @ApiProperty({ type: String, nullable: true, description: 'Null once deleted (a tombstone)', example: 'hello' })
  body: string | null;

  @ApiProperty({ type: String, nullable: true, description: "The sender's idempotency key, if it gave one" })
  clientMessageId: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  editedAt: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  deletedAt: string | null;

  @ApiProperty({ type: [ReactionCount], description: 'In the order each emoji was first added; empty once deleted' })
  reactions: ReactionCount[];

  @ApiProperty({ type: String, nullable: true, description: 'The message this one answers (of the same conversation; it may since have been deleted)' })
  replyToId: string | null;

  @ApiProperty({ type: String, nullable: true, description: "The root of this reply's thread: the answered message's threadId, or its id; null when this answers nothing" })
  threadId: string | null;

  @ApiProperty({ example: 0, description: 'On the root of a thread: its replies (deleted ones included); else 0' })
  replyCount: number;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'On the root of a thread: when the last reply was sent; else null' })
  lastReplyAt: string | null;

  @ApiProperty({ type: [String], example: ['43'], description: 'The members named as @username in the body (when it was sent or last edited)' })
  mentionedUserIds: string[];

  @ApiProperty({ description: 'Pinned in its conversation' })
  pinned: boolean;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When it was pinned' })
  pinnedAt: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Who pinned it' })
  pinnedBy: string | null;
  @ApiProperty({
    enum: ['text', 'system'],
    description: '`system`: a membership or title change recorded by the server (`body` null, `event` set); it cannot be edited or deleted',
  })
  kind: MessageKind;

  @ApiProperty({ type: SystemEventView, nullable: true, description: 'System messages only' })
  event: SystemEvent | null;

  @ApiProperty({ type: [AttachmentView], description: 'In the order sent; empty on a tombstone. Links signed for the caller' })
  attachments: AttachmentView[];
}

/** A page of history. */
export class HistoryPage {
  @ApiProperty({ type: [MessageView] })
  items: MessageView[];

  @ApiProperty({ description: 'Whether there are more messages in the same direction' })
  hasMore: boolean;
}

/** A page of the changes feed. */
export class ChangesPage extends HistoryPage {
  @ApiProperty({ description: "Pass as `since` for the next page; the client's new high-water mark" })
  lastChangeSeq: number;
}

/** The message as `viewerId` sees it: its attachments' links are signed for that user. */
export function toMessageView(message: MessageRow, links: AttachmentLinks, viewerId: string): MessageView {
  const reacted = message.reacted;
  return {
    id: message.id,
    conversationId: message.conversationId,
    seq: Number(message.seq),
    changeSeq: Number(message.changeSeq),
    senderId: message.senderId,
    body: message.body,
    clientMessageId: message.clientMessageId,
    createdAt: message.createdAt.toISOString(),
    editedAt: message.editedAt?.toISOString() ?? null,
    deletedAt: message.deletedAt?.toISOString() ?? null,
    reactions: message.reactions.map(([emoji, count]) => ({ emoji, count, reacted: reacted.includes(emoji) })),
    replyToId: message.replyToId,
    threadId: message.threadId,
    replyCount: message.replyCount,
    lastReplyAt: message.lastReplyAt?.toISOString() ?? null,
    mentionedUserIds: message.mentionedUserIds,
    pinned: message.pinnedAt !== null,
    pinnedAt: message.pinnedAt?.toISOString() ?? null,
    pinnedBy: message.pinnedBy,
    kind: message.kind,
    event: message.event,
    attachments: links.views(message.attachments, viewerId),
  };
}

/** A page of a thread: its replies, oldest first. */
export class ThreadPage {
  @ApiProperty({ type: [MessageView], description: 'Replies whose threadId is the root, oldest first' })
  items: MessageView[];

  @ApiProperty({ description: 'Whether there are more replies after these' })
  hasMore: boolean;
}

/** A conversation's pinned messages. */
export class PinsPage {
  @ApiProperty({ type: [MessageView], description: 'Newest pin first (at most 50)' })
  items: MessageView[];
}
