import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { InOrder, QueryInteger } from '../../common/validation.js';

export class ChangesQuery {
  /** The last change seq the client has applied (0 for everything). */
  @ApiProperty({ minimum: 0, description: 'The last change seq the client has applied (0 for everything)' })
  @QueryInteger()
  @InOrder(IsInt(), Min(0), Max(Number.MAX_SAFE_INTEGER))
  since: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @QueryInteger()
  @InOrder(IsInt(), Min(1), Max(500))
  limit: number = 100;
}
