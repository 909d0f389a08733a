import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IntegerQuery } from '../../common/validation.js';

export class ThreadQuery {
  /** Replies after this seq (in the conversation), oldest first: how a client reads on. */
  @ApiPropertyOptional({ minimum: 0, default: 0, description: 'Replies with a seq above this one, oldest first' })
  @IsOptional()
  @IntegerQuery(0, Number.MAX_SAFE_INTEGER)
  after: number = 0;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @IntegerQuery(1, 100)
  limit: number = 50;
}
