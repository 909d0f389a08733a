import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsString, Matches, MaxLength } from 'class-validator';
import { FreeText, InOrder, Omittable } from '../../common/validation.js';

/** `PATCH /api/v1/users/me`: each field given is changed, the others kept. */
export class UpdateMeDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 64, description: 'One line: no control characters or text-direction overrides', example: 'Alice' })
  @Omittable()
  @InOrder(IsString(), MaxLength(64), Matches(/\S/, { message: 'displayName must not be blank' }), FreeText('line'))
  displayName?: string;

  @ApiPropertyOptional({ description: 'false: other members see lastReadSeq and readAt as null' })
  @Omittable()
  @IsBoolean()
  shareReadReceipts?: boolean;

  @ApiPropertyOptional({ description: 'false: other members always see the caller offline, lastSeenAt null' })
  @Omittable()
  @IsBoolean()
  sharePresence?: boolean;
}
