import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IntegerQuery } from '../../common/validation.js';

export class ChangesQuery {
  /** The last change seq the client has applied (0 for everything). */
  @ApiProperty({ minimum: 0, description: 'The last change seq the client has applied (0 for everything)' })
  @IntegerQuery(0, Number.MAX_SAFE_INTEGER)
  since: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @IntegerQuery(1, 500)
  limit: number = 100;
}
