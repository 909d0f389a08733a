import { ApiProperty } from '@nestjs/swagger';
import type { AttachmentLinks } from '../attachments/attachment-links.js';
import { NEXT_CURSOR_DOC } from '../common/api-docs.js';
import { MessageView, toMessageView, type MessageRow } from '../messages/message.view.js';
import type { Role } from '../common/caller/role.js';
import { UserView } from '../users/user.view.js';
import type { AdminUserRow } from '../users/users.repository.js';

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

export type AdminMessageRow = MessageRow & { senderUsername: string };

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

/** Its attachments' links are signed for the admin `viewerId` (admins see attached files: moderation). */
export function toAdminMessageView(row: AdminMessageRow, links: AttachmentLinks, viewerId: string): AdminMessageView {
  return { ...toMessageView(row, links, viewerId), senderUsername: row.senderUsername };
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

  @ApiProperty({ description: 'Attachments stored and not removed' })
  attachments: number;

  @ApiProperty({ description: 'Storage used by attachments, in bytes: files and thumbnails, those removed but not yet deleted by the cleanup job included' })
  attachmentBytes: number;
}
