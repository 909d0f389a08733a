import { BadRequestException } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { isId } from '../../common/ids.js';
import { isLengthBetween } from '../../common/text-length.js';
import { ID_MESSAGE, unknownField } from '../../common/validation.js';

export const MAX_BODY_LENGTH = 4000;
const MAX_CLIENT_MESSAGE_ID_LENGTH = 100;
const FIELDS = new Set(['conversationId', 'recipientId', 'body', 'clientMessageId']);

/**
 * Into a conversation (`conversationId`) or to a user directly (`recipientId`).
 *
 * Checked by `fromBody` rather than by class-validator decorators: this is the body of every
 * send, and class-transformer with class-validator cost the server about a fifth of its CPU
 * per message under load (README, "What each change bought"). The rules and messages are those
 * the decorators had, but that a null `conversationId` or `recipientId` is absent, a
 * `clientMessageId` that is not a string is told so, and a field named like a member of
 * Object.prototype (`toString`) or `prototype` is unknown, as it should always have been;
 * test/unit/send-message-dto.test.ts holds it to them.
 */
export class SendMessageDto {
  @ApiPropertyOptional({ description: 'The conversation to send into (or give recipientId)', example: '7' })
  conversationId?: string;

  @ApiPropertyOptional({ description: 'Send in the direct conversation with this user, created if needed', example: '43' })
  recipientId?: string;

  @ApiProperty({ minLength: 1, maxLength: MAX_BODY_LENGTH, description: '1–4000 characters after trimming', example: 'hello' })
  body: string;

  /** Chosen by the client so a retry after a lost answer does not send twice. */
  @ApiPropertyOptional({
    minLength: 1,
    maxLength: MAX_CLIENT_MESSAGE_ID_LENGTH,
    description: 'Idempotency key: the same one again answers 200 with the original message',
  })
  clientMessageId?: string;

  /**
   * The body as a send, or a 400 listing every problem: unknown fields first, then one per
   * field. An optional field given as null counts as absent.
   */
  static fromBody(value: unknown): SendMessageDto {
    const fields = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    const problems = Object.keys(fields)
      .filter((key) => !FIELDS.has(key))
      .map(unknownField);
    const { conversationId, recipientId, body, clientMessageId } = fields;
    const toConversation = conversationId !== undefined && conversationId !== null;
    const toUser = recipientId !== undefined && recipientId !== null;
    if (toConversation === toUser) {
      problems.push(toUser ? 'give either conversationId or recipientId, not both' : 'conversationId or recipientId is required');
    } else if (toConversation && !isId(conversationId)) problems.push(ID_MESSAGE.replace('$property', 'conversationId'));
    if (toUser && !isId(recipientId)) problems.push(ID_MESSAGE.replace('$property', 'recipientId'));
    const text = typeof body === 'string' ? body.trim() : undefined;
    if (text === undefined || !isLengthBetween(text, 1, MAX_BODY_LENGTH)) {
      problems.push(`body must be 1–${MAX_BODY_LENGTH} characters after trimming`);
    }
    const idempotent = clientMessageId !== undefined && clientMessageId !== null;
    if (idempotent) {
      if (typeof clientMessageId !== 'string') problems.push('clientMessageId must be a string');
      else if (clientMessageId.length < 1) problems.push('clientMessageId must be longer than or equal to 1 characters');
      else if (!isLengthBetween(clientMessageId, 1, MAX_CLIENT_MESSAGE_ID_LENGTH)) {
        problems.push(`clientMessageId must be shorter than or equal to ${MAX_CLIENT_MESSAGE_ID_LENGTH} characters`);
      }
    }
    if (problems.length > 0) throw new BadRequestException(problems);
    const send = new SendMessageDto();
    if (toUser) send.recipientId = recipientId as string;
    else send.conversationId = conversationId as string;
    send.body = text!;
    if (idempotent) send.clientMessageId = clientMessageId as string;
    return send;
  }
}
