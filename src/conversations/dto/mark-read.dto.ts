import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { InOrder } from '../../common/validation.js';

export class MarkReadDto {
  /** The caller has read every message up to and including this seq. */
  @ApiProperty({ minimum: 0, description: 'Read up to and including this seq' })
  @InOrder(IsInt(), Min(0), Max(Number.MAX_SAFE_INTEGER))
  seq: number;
}
