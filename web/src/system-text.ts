import type { Message } from '@parley/client';
import type { UserDirectory } from './users.js';

/** What a system message says happened, as a sentence: "Alice added Bob and Carol". */
export function systemText(message: Message, users: UserDirectory, meId: string): string {
  const event = message.event;
  if (!event) return 'The group changed.';
  const name = (id: string): string => (id === meId ? 'you' : users.name(id));
  const actor = capitalise(name(event.actorId));
  const people = listOf((event.userIds ?? []).map(name));
  switch (event.type) {
    case 'members.added':
      return `${actor} added ${people}`;
    case 'member.removed':
      return `${actor} removed ${people}`;
    case 'member.left':
      return `${actor} left the group`;
    case 'title.changed':
      return `${actor} renamed the group to “${event.title ?? ''}”`;
    default:
      return 'The group changed.';
  }
}

function capitalise(text: string): string {
  return text === 'you' ? 'You' : text;
}

function listOf(names: string[]): string {
  if (names.length <= 1) return names[0] ?? 'someone';
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}
