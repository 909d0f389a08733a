import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, ValidateBy, ValidateIf, type ValidationArguments } from 'class-validator';
import { attachmentIdsProblem } from '../../common/hot-path/send-message-check.js';
import { isLengthBetween } from '../../common/text-length.js';
import { textProblem } from '../../common/text-rules.js';
import { Omittable, Trim } from '../../common/validation.js';
import { ATTACHMENT_IDS_DESCRIPTION, BODY_DESCRIPTION, MAX_ATTACHMENTS, MAX_BODY_LENGTH } from './send-message.dto.js';

/** With attachmentIds, an edit may leave the text out (unchanged) or empty it. */
const withAttachments = (args?: ValidationArguments) => (args?.object as EditMessageDto | undefined)?.attachmentIds !== undefined;
const minLength = (args?: ValidationArguments) => (withAttachments(args) ? 0 : 1);

export class EditMessageDto {
  @ApiPropertyOptional({
    minLength: 0,
    maxLength: MAX_BODY_LENGTH,
    description: `${BODY_DESCRIPTION}. Required without attachmentIds; with them, 0–4000 (empty only while an attachment remains), or left out to keep the text`,
  })
  @ValidateIf((dto: EditMessageDto) => dto.attachmentIds === undefined || dto.body !== undefined)
  // Above the others: decorators register bottom-up, and this check runs once they pass. The
  // text rules of every free-text field (FreeText), but that an edit with attachments may empty it.
  @ValidateBy({
    name: 'editBodyText',
    validator: {
      validate: (value, args) => typeof value !== 'string' || (value === '' && withAttachments(args)) || textProblem(value, 'body') === undefined,
      defaultMessage: (args) => `body ${textProblem(String(args?.value), 'body')}`,
    },
  })
  @Trim()
  @IsString()
  @ValidateBy({
    name: 'editBodyLength',
    validator: {
      validate: (value, args) => typeof value === 'string' && isLengthBetween(value, minLength(args), MAX_BODY_LENGTH),
      defaultMessage: (args) => `body must be ${minLength(args)}–${MAX_BODY_LENGTH} characters after trimming`,
    },
  })
  body?: string;

  @ApiPropertyOptional({ type: [String], maxItems: MAX_ATTACHMENTS, uniqueItems: true, description: `${ATTACHMENT_IDS_DESCRIPTION}, or already this message's. Given, they become the message's attachments (those left out are removed); left out, the attachments stay as they are` })
  @Omittable()
  @ValidateBy({
    name: 'attachmentIds',
    validator: {
      validate: (value) => attachmentIdsProblem(value, MAX_ATTACHMENTS) === undefined,
      defaultMessage: (args) => attachmentIdsProblem(args?.value, MAX_ATTACHMENTS)!,
    },
  })
  attachmentIds?: string[];
}
