import { BadRequestException } from '@nestjs/common';
import { isId } from '../ids.js';
import { isLengthBetween } from '../text-length.js';
import { textProblem } from '../text-rules.js';
import { ID_MESSAGE, unknownField } from '../validation.js';

const FIELDS = new Set(['conversationId', 'recipientId', 'body', 'clientMessageId', 'replyToId', 'attachmentIds']);

export interface SendMessageLimits {
  maxBodyLength: number;
  maxClientMessageIdLength: number;
  maxAttachments: number;
}

/** A send's fields as checked: exactly one of conversationId and recipientId, the body trimmed. */
export interface SendMessageFields {
  conversationId?: string;
  recipientId?: string;
  body: string;
  clientMessageId?: string;
  replyToId?: string;
  /** Uploads to attach, in order: given only when there is at least one. */
  attachmentIds?: string[];
}

/**
 * The body of a send checked by hand (SendMessageDto.fromBody), where every other body goes
 * through class-transformer and class-validator's decorators: this is the body of every send.
 * Chosen for speed (README.md in this folder). The rules and messages are those the decorators
 * had, but that a null `conversationId` or `recipientId` is absent, a `clientMessageId` that is
 * not a string is told so, and a field named like a member of Object.prototype (`toString`) or
 * `prototype` is unknown, as it should always have been; test/unit/send-message-dto.test.ts
 * holds it to them. Throws a 400 listing every problem: unknown fields first, then one per field.
 */
export function checkSendMessage(value: unknown, limits: SendMessageLimits): SendMessageFields {
  const fields = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const problems = Object.keys(fields)
    .filter((key) => !FIELDS.has(key))
    .map(unknownField);
  const { conversationId, recipientId, body, clientMessageId, replyToId, attachmentIds } = fields;
  const toConversation = conversationId !== undefined && conversationId !== null;
  const toUser = recipientId !== undefined && recipientId !== null;
  if (toConversation === toUser) {
    problems.push(toUser ? 'give either conversationId or recipientId, not both' : 'conversationId or recipientId is required');
  } else if (toConversation && !isId(conversationId)) problems.push(ID_MESSAGE.replace('$property', 'conversationId'));
  if (toUser && !isId(recipientId)) problems.push(ID_MESSAGE.replace('$property', 'recipientId'));
  const attachments = attachmentIds === undefined || attachmentIds === null ? [] : attachmentIds;
  const attachmentsProblem = attachmentIdsProblem(attachments, limits.maxAttachments);
  if (attachmentsProblem) problems.push(attachmentsProblem);
  // With an attachment, the text may be left out or empty (also while the list is refused: it
  // is then the one problem told).
  const withAttachments = !(Array.isArray(attachments) && attachments.length === 0);
  const text = typeof body === 'string' ? body.trim() : body === undefined && withAttachments ? '' : undefined;
  if (text === undefined || !isLengthBetween(text, withAttachments ? 0 : 1, limits.maxBodyLength)) {
    problems.push(`body must be ${withAttachments ? 0 : 1}–${limits.maxBodyLength} characters after trimming`);
  } else if (text !== '') {
    const problem = textProblem(text, 'body');
    if (problem !== undefined) problems.push(`body ${problem}`);
  }
  const idempotent = clientMessageId !== undefined && clientMessageId !== null;
  if (idempotent) {
    if (typeof clientMessageId !== 'string') problems.push('clientMessageId must be a string');
    else if (clientMessageId.length < 1) problems.push('clientMessageId must be longer than or equal to 1 characters');
    else if (!isLengthBetween(clientMessageId, 1, limits.maxClientMessageIdLength)) {
      problems.push(`clientMessageId must be shorter than or equal to ${limits.maxClientMessageIdLength} characters`);
    }
  }
  const replying = replyToId !== undefined && replyToId !== null;
  if (replying && !isId(replyToId)) problems.push(ID_MESSAGE.replace('$property', 'replyToId'));
  if (problems.length > 0) throw new BadRequestException(problems);
  const send = {} as SendMessageFields;
  if (toUser) send.recipientId = recipientId as string;
  else send.conversationId = conversationId as string;
  send.body = text!;
  if (idempotent) send.clientMessageId = clientMessageId as string;
  if (replying) send.replyToId = replyToId as string;
  if (withAttachments) send.attachmentIds = attachments as string[];
  return send;
}

/** Why `attachmentIds` is not a list of at most `max` distinct ids, or undefined. */
export function attachmentIdsProblem(value: unknown, max: number): string | undefined {
  if (!Array.isArray(value)) return 'attachmentIds must be an array';
  if (value.length > max) return `attachmentIds must contain no more than ${max} elements`;
  if (!value.every(isId)) return 'each value in attachmentIds must be an id (a decimal string)';
  if (new Set(value).size !== value.length) return "All attachmentIds's elements must be unique";
  return undefined;
}
