import { ApiProperty } from '@nestjs/swagger';
import type { Message } from './message.entity.js';

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

export function toMessageView(message: Message): MessageView {
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
  };
}
