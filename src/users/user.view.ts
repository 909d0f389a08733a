import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
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

  @ApiPropertyOptional({ enum: [true], description: 'Present, and true, only on bots' })
  bot?: true;

  @ApiPropertyOptional({ example: '7', description: 'A bot’s owner: the user who made it (present only on bots)' })
  ownerId?: string;
}

/** The caller's own `user`, with what it shares with the members of its conversations. */
export class SelfView extends UserView {
  @ApiProperty({ description: 'Whether other members see how far the caller has read' })
  shareReadReceipts: boolean;

  @ApiProperty({ description: 'Whether other members see when the caller is online' })
  sharePresence: boolean;
}

export class UserPage {
  @ApiProperty({ type: [UserView] })
  items: UserView[];

  @ApiProperty(NEXT_CURSOR_DOC)
  nextCursor: string | null;
}

type ViewedUser = Pick<User, 'id' | 'username' | 'displayName' | 'createdAt'> & Partial<Pick<User, 'bot' | 'ownerId'>>;

export function toUserView(user: ViewedUser): UserView {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    createdAt: new Date(user.createdAt).toISOString(),
    // Only bots carry these: a person's view is as in v1.
    ...(user.bot ? { bot: true as const, ownerId: user.ownerId ?? undefined } : {}),
  };
}

export function toSelfView(user: ViewedUser & Pick<User, 'shareReadReceipts' | 'sharePresence'>): SelfView {
  return { ...toUserView(user), shareReadReceipts: user.shareReadReceipts, sharePresence: user.sharePresence };
}
