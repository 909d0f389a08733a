import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { InOrder, IntegerQuery } from './validation.js';

/** `?limit=&cursor=` of every keyset-paginated list. */
export class CursorPageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @IntegerQuery(1, 100)
  limit: number = 20;

  @ApiPropertyOptional({ description: 'The `nextCursor` of the previous page' })
  @IsOptional()
  @InOrder(IsString(), MaxLength(512))
  cursor?: string;
}
