import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, Matches } from 'class-validator';
import { ID_PATTERN, InOrder } from '../../common/validation.js';

/** At most this many users per `GET /api/v1/presence`. */
export const MAX_PRESENCE_USERS = 100;

export class PresenceQuery {
  @ApiProperty({
    type: String,
    description: `Comma-separated user ids, at most ${MAX_PRESENCE_USERS}`,
    example: '1,2,3',
  })
  // A comma-separated string becomes a list; anything else (a repeated parameter) is refused.
  @Transform(({ value }) => (typeof value === 'string' ? value.split(',') : null))
  @InOrder(
    IsArray({ message: 'userIds must be comma-separated ids' }),
    ArrayMinSize(1, { message: 'userIds must name at least one user' }),
    ArrayMaxSize(MAX_PRESENCE_USERS, { message: `userIds must name at most ${MAX_PRESENCE_USERS} users` }),
    Matches(ID_PATTERN, { each: true, message: 'userIds must be comma-separated ids (decimal strings)' }),
  )
  userIds: string[];
}
