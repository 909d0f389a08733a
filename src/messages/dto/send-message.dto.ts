import { IsDefined, IsOptional, IsString, Length, Matches, ValidateIf } from 'class-validator';
import { ID_MESSAGE, ID_PATTERN, NotTogetherWith, Trim } from '../../common/validation.js';

export const MAX_BODY_LENGTH = 4000;

/** Into a conversation (`conversationId`) or to a user directly (`recipientId`). */
export class SendMessageDto {
  @ValidateIf((dto: SendMessageDto) => dto.conversationId !== undefined || dto.recipientId === undefined)
  @IsDefined({ message: 'conversationId or recipientId is required' })
  @IsString()
  @Matches(ID_PATTERN, { message: ID_MESSAGE })
  @NotTogetherWith('recipientId')
  conversationId?: string;

  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN, { message: ID_MESSAGE })
  recipientId?: string;

  @Trim()
  @IsString()
  @Length(1, MAX_BODY_LENGTH, { message: `body must be 1–${MAX_BODY_LENGTH} characters after trimming` })
  body: string;

  /** Chosen by the client so a retry after a lost answer does not send twice. */
  @IsOptional()
  @IsString()
  @Length(1, 100)
  clientMessageId?: string;
}
