import { ApiProperty } from '@nestjs/swagger';
import { NEXT_CURSOR_DOC } from '../common/api-docs.js';
import type { User } from './user.entity.js';

/** `user` in the contract (a class so that the OpenAPI document can describe it). */
export class UserView {
  @ApiProperty({ example: '42' })
  id: string;

  @ApiProperty({ example: 'alice' })
  username: string;

  @ApiProperty({ example: 'Alice' })
  displayName: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

export class UserPage {
  @ApiProperty({ type: [UserView] })
  items: UserView[];

  @ApiProperty(NEXT_CURSOR_DOC)
  nextCursor: string | null;
}

export function toUserView(user: Pick<User, 'id' | 'username' | 'displayName' | 'createdAt'>): UserView {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    createdAt: new Date(user.createdAt).toISOString(),
  };
}
