import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { CursorPageQuery } from '../../common/page.query.js';
import { InOrder } from '../../common/validation.js';

export class ListUsersQuery extends CursorPageQuery {
  /** Matches anywhere in the username or display name, case-insensitively. */
  @ApiPropertyOptional({ maxLength: 64, description: 'Matches anywhere in the username or display name, case-insensitively' })
  @IsOptional()
  @InOrder(IsString(), MaxLength(64))
  q?: string;
}
