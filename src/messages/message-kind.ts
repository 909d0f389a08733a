import { BadRequestException } from '@nestjs/common';
import type { MessageKind } from './message.entity.js';

/**
 * Refuses (400) to act on a system message: they record a conversation's membership and title
 * changes, and cannot be edited, deleted, reacted to or replied to. `action` completes "System
 * messages cannot be …" (`edited`, `reacted to`).
 */
export function requireTextMessage(kind: MessageKind, action: string): void {
  if (kind !== 'text') throw new BadRequestException(`System messages cannot be ${action}`);
}
