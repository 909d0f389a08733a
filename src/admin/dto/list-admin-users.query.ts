import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { CursorPageQuery } from '../../common/page.query.js';
import { InOrder } from '../../common/validation.js';
import type { Role } from '../../common/caller/role.js';

/** `?active=true|false`: anything else stays a string and fails @IsBoolean (400). */
export const BooleanString = () =>
  Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value));

export class ListAdminUsersQuery extends CursorPageQuery {
  @ApiPropertyOptional({ description: 'Matches anywhere in the username or display name, case-insensitively', maxLength: 64 })
  @IsOptional()
  @InOrder(IsString(), MaxLength(64))
  q?: string;

  @ApiPropertyOptional({ enum: ['user', 'admin'] })
  @IsOptional()
  @IsIn(['user', 'admin'])
  role?: Role;

  @ApiPropertyOptional({ type: Boolean, description: 'true: active users only; false: deactivated ones only' })
  @IsOptional()
  @BooleanString()
  @IsBoolean()
  active?: boolean;
}
