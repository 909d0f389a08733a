import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsOptional, IsString, Length, Matches, ValidateIf } from 'class-validator';
import { ID_MESSAGE, ID_PATTERN, NotTogetherWith, Trim } from '../../common/validation.js';

export const MAX_BODY_LENGTH = 4000;

/** Into a conversation (`conversationId`) or to a user directly (`recipientId`). */
export class SendMessageDto {
  @ApiPropertyOptional({ description: 'The conversation to send into (or give recipientId)', example: '7' })
  @ValidateIf((dto: SendMessageDto) => dto.conversationId !== undefined || dto.recipientId === undefined)
  @IsDefined({ message: 'conversationId or recipientId is required' })
  @IsString()
  @Matches(ID_PATTERN, { message: ID_MESSAGE })
  @NotTogetherWith('recipientId')
  conversationId?: string;

  @ApiPropertyOptional({ description: 'Send in the direct conversation with this user, created if needed', example: '43' })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN, { message: ID_MESSAGE })
  recipientId?: string;

  @ApiProperty({ minLength: 1, maxLength: 4000, description: '1–4000 characters after trimming', example: 'hello' })
  @Trim()
  @IsString()
  @Length(1, MAX_BODY_LENGTH, { message: `body must be 1–${MAX_BODY_LENGTH} characters after trimming` })
  body: string;

  /** Chosen by the client so a retry after a lost answer does not send twice. */
  @ApiPropertyOptional({ minLength: 1, maxLength: 100, description: 'Idempotency key: the same one again answers 200 with the original message' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  clientMessageId?: string;
}
