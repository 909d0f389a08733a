import type { Conversation, User } from '@parley/client';
import type { UserDirectory } from './users.js';

/** The name of a conversation: a group's title, or the other person in a direct one. */
export function conversationTitle(conversation: Conversation, me: User, users: UserDirectory): string {
  if (conversation.type === 'group') return conversation.title || 'Untitled group';
  const other = conversation.memberIds.find((id) => id !== me.id);
  return other ? users.name(other) : 'Just you';
}
