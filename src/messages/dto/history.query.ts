import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IntegerQuery } from '../../common/validation.js';

/** Messages per history page when the client names no limit. */
export const DEFAULT_PAGE_SIZE = 15;

export class HistoryQuery {
  /** Messages older than this seq, newest first. */
  @ApiPropertyOptional({ minimum: 1, description: 'Messages older than this seq, newest first' })
  @IsOptional()
  @IntegerQuery(1, Number.MAX_SAFE_INTEGER)
  before?: number;

  /** Messages newer than this seq, oldest first: how a client catches up. */
  @ApiPropertyOptional({ minimum: 0, description: 'Messages newer than this seq, oldest first (catching up)' })
  @IsOptional()
  @IntegerQuery(0, Number.MAX_SAFE_INTEGER)
  after?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 15 })
  @IsOptional()
  @IntegerQuery(1, 100)
  limit: number = DEFAULT_PAGE_SIZE;
}
