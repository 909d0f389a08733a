import type { Message } from './message.entity.js';

/** `message` in the contract, plus `changeSeq` (its place in the conversation's changes feed). */
export interface MessageView {
  id: string;
  conversationId: string;
  seq: number;
  changeSeq: number;
  senderId: string;
  body: string | null;
  clientMessageId: string | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
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
