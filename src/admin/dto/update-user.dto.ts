import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsDefined, IsIn, IsOptional, ValidateIf } from 'class-validator';
import type { Role } from '../../common/caller/role.js';

/** `{role?, active?}`: at least one of them (a null one counts as not given). */
export class UpdateUserDto {
  @ApiPropertyOptional({ enum: ['user', 'admin'], description: 'Promote to admin or demote to user' })
  @ValidateIf((dto: UpdateUserDto) => dto.role != null || dto.active == null)
  @IsDefined({ message: 'give role or active' })
  @IsIn(['user', 'admin'])
  role?: Role;

  @ApiPropertyOptional({
    description:
      'false deactivates: the user is logged out everywhere at once (tokens refused, sockets closed with 4401) and cannot log in, and the bots it owns are deactivated with it (tokens and webhooks gone); true reactivates the user (who logs in again), not its bots',
  })
  @IsOptional()
  @IsBoolean()
  active?: boolean;
}
