import { ApiProperty } from '@nestjs/swagger';
import { NEXT_CURSOR_DOC } from '../common/api-docs.js';
import type { Message } from '../messages/message.entity.js';
import { MessageView, toMessageView } from '../messages/message.view.js';
import type { Role } from '../users/user.entity.js';
import { UserView } from '../users/user.view.js';

/** A user as AdminRepository reads it. */
export interface AdminUserRow {
  id: string;
  username: string;
  displayName: string;
  createdAt: Date;
  role: Role;
  active: boolean;
  lastSeenAt: Date | null;
  messageCount: string;
}

/** The contract's `user`, plus what an admin needs to see. */
export class AdminUserView extends UserView {
  @ApiProperty({ enum: ['user', 'admin'] })
  role: Role;

  @ApiProperty({ description: 'False once deactivated: the user cannot log in and its tokens and sockets are cut' })
  active: boolean;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Last login or socket connection' })
  lastSeenAt: string | null;

  @ApiProperty({ description: 'Messages this user has sent, deleted ones included' })
  messageCount: number;
}

export class AdminUserPage {
  @ApiProperty({ type: [AdminUserView] })
  items: AdminUserView[];

  @ApiProperty(NEXT_CURSOR_DOC)
  nextCursor: string | null;
}

export function toAdminUserView(row: AdminUserRow): AdminUserView {
  return {
    id: row.id,
    username: row.username,
    displayName: row.displayName,
    createdAt: row.createdAt.toISOString(),
    role: row.role,
    active: row.active,
    lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
    messageCount: Number(row.messageCount),
  };
}

export type AdminMessageRow = Message & { senderUsername: string };

/** The contract's `message`, plus its sender's username. */
export class AdminMessageView extends MessageView {
  @ApiProperty({ example: 'alice' })
  senderUsername: string;
}

export class AdminMessagePage {
  @ApiProperty({ type: [AdminMessageView], description: 'Newest first' })
  items: AdminMessageView[];

  @ApiProperty(NEXT_CURSOR_DOC)
  nextCursor: string | null;
}

export function toAdminMessageView(row: AdminMessageRow): AdminMessageView {
  return { ...toMessageView(row), senderUsername: row.senderUsername };
}

export class StatsView {
  @ApiProperty({ description: 'Registered users, deactivated ones included' })
  users: number;

  @ApiProperty()
  conversations: number;

  @ApiProperty({ description: 'Messages stored, tombstones included' })
  messages: number;

  @ApiProperty({ description: 'Messages sent in the last 24 hours' })
  messagesLast24h: number;

  @ApiProperty({ description: 'Open WebSocket connections on the instance that answered' })
  connections: number;
}
