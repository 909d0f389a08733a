import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { InOrder, QueryInteger } from '../../common/validation.js';

/** The narrowfail page size. */
export const DEFAULT_PAGE_SIZE = 15;

export class HistoryQuery {
  /** Messages older than this seq, newest first. */
  @ApiPropertyOptional({ minimum: 1, description: 'Messages older than this seq, newest first' })
  @IsOptional()
  @QueryInteger()
  @InOrder(IsInt(), Min(1), Max(Number.MAX_SAFE_INTEGER))
  before?: number;

  /** Messages newer than this seq, oldest first: how a client catches up. */
  @ApiPropertyOptional({ minimum: 0, description: 'Messages newer than this seq, oldest first (catching up)' })
  @IsOptional()
  @QueryInteger()
  @InOrder(IsInt(), Min(0), Max(Number.MAX_SAFE_INTEGER))
  after?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 15 })
  @IsOptional()
  @QueryInteger()
  @InOrder(IsInt(), Min(1), Max(100))
  limit: number = DEFAULT_PAGE_SIZE;
}
