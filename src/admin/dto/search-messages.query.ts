import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { CursorPageQuery } from '../../common/page.query.js';
import { ID_MESSAGE, ID_PATTERN, InOrder, Timestamp } from '../../common/validation.js';

/** `?q=` (empty, as a search form sends it) means no search. */
const TrimToUndefined = () =>
  Transform(({ value }) => (typeof value === 'string' ? value.trim() || undefined : value));

export class SearchMessagesQuery extends CursorPageQuery {
  @ApiPropertyOptional({
    description:
      'Full-text search of bodies (PostgreSQL websearch syntax: words, "a phrase", -excluded, or). Whole words, any language, no stemming',
    maxLength: 200,
    example: 'refund -spam',
  })
  @TrimToUndefined()
  @IsOptional()
  @InOrder(IsString(), Length(1, 200))
  q?: string;

  @ApiPropertyOptional({ description: 'Only messages sent by this user', example: '42' })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN, { message: ID_MESSAGE })
  senderId?: string;

  @ApiPropertyOptional({ description: 'Only messages of this conversation', example: '7' })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN, { message: ID_MESSAGE })
  conversationId?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Sent at or after this time' })
  @IsOptional()
  @Timestamp()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Sent before this time' })
  @IsOptional()
  @Timestamp()
  to?: string;
}
