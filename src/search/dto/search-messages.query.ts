import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { CursorPageQuery } from '../../common/page.query.js';
import { ID_MESSAGE, ID_PATTERN, InOrder, Timestamp, Trim } from '../../common/validation.js';

/** `GET /api/v1/search/messages`: words to find, and filters that narrow them down. */
export class SearchMessagesQuery extends CursorPageQuery {
  @ApiProperty({
    description:
      'What to find, 1–200 characters: words (all of them), "a phrase", -excluded, or. Whole words, any language, case-insensitive, no stemming',
    minLength: 1,
    maxLength: 200,
    example: 'lunch -friday',
  })
  @Trim()
  @InOrder(IsString(), Length(1, 200, { message: 'q must be 1–200 characters after trimming' }))
  q: string;

  @ApiPropertyOptional({ description: 'Only in this conversation (the caller must be a member)', example: '7' })
  @IsOptional()
  @InOrder(IsString(), Matches(ID_PATTERN, { message: ID_MESSAGE }))
  conversationId?: string;

  @ApiPropertyOptional({ description: 'Only messages sent by this user', example: '42' })
  @IsOptional()
  @InOrder(IsString(), Matches(ID_PATTERN, { message: ID_MESSAGE }))
  senderId?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Sent at or after this time' })
  @IsOptional()
  @Timestamp()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Sent before this time' })
  @IsOptional()
  @Timestamp()
  to?: string;
}
