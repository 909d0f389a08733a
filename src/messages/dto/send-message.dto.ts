import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { checkSendMessage, type SendMessageLimits } from '../../common/hot-path/send-message-check.js';

export const MAX_BODY_LENGTH = 4000;
/** Attachments one message may carry. */
export const MAX_ATTACHMENTS = 10;
export const BODY_DESCRIPTION =
  '1–4000 characters after trimming; not blank (zero-width and other invisible characters alone count as blank); no text-direction overrides or isolates (U+202A–U+202E, U+2066–U+2069)';
const MAX_CLIENT_MESSAGE_ID_LENGTH = 100;
const SEND_MESSAGE_LIMITS: SendMessageLimits = {
  maxBodyLength: MAX_BODY_LENGTH,
  maxClientMessageIdLength: MAX_CLIENT_MESSAGE_ID_LENGTH,
  maxAttachments: MAX_ATTACHMENTS,
};
export const ATTACHMENT_IDS_DESCRIPTION =
  'Uploads to attach (POST /api/v1/attachments), in order: 0–10 distinct ids of your own uploads not attached to any other message. With at least one, `body` may be empty or left out';

/**
 * Into a conversation (`conversationId`) or to a user directly (`recipientId`).
 *
 * Checked by `fromBody` (checkSendMessage, in src/common/hot-path) rather than by
 * class-validator decorators: this is the body of every send. The decorators here only
 * document it.
 */
export class SendMessageDto {
  @ApiPropertyOptional({ description: 'The conversation to send into (or give recipientId)', example: '7' })
  conversationId?: string;

  @ApiPropertyOptional({ description: 'Send in the direct conversation with this user, created if needed', example: '43' })
  recipientId?: string;

  @ApiProperty({
    minLength: 0,
    maxLength: MAX_BODY_LENGTH,
    description: `${BODY_DESCRIPTION}. With attachmentIds, 0–4000 and it may be left out`,
    example: 'hello',
  })
  body: string;

  /** Chosen by the client so a retry after a lost answer does not send twice. */
  @ApiPropertyOptional({
    minLength: 1,
    maxLength: MAX_CLIENT_MESSAGE_ID_LENGTH,
    description: 'Idempotency key: the same one again answers 200 with the original message',
  })
  clientMessageId?: string;

  @ApiPropertyOptional({
    description: 'Answer this message: one of the same conversation (it may have been deleted). The reply joins its thread (threadId)',
    example: '1001',
  })
  replyToId?: string;

  @ApiPropertyOptional({ type: [String], maxItems: MAX_ATTACHMENTS, uniqueItems: true, description: ATTACHMENT_IDS_DESCRIPTION, example: ['88'] })
  attachmentIds?: string[];

  /**
   * The body as a send, or a 400 listing every problem: unknown fields first, then one per
   * field. An optional field given as null counts as absent.
   */
  static fromBody(value: unknown): SendMessageDto {
    return Object.assign(new SendMessageDto(), checkSendMessage(value, SEND_MESSAGE_LIMITS));
  }
}
