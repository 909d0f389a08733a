import type { Message, User } from '@parley/client';
import { el, formatFull, formatTime } from '../dom.js';
import { avatar, usernameSuffix } from '../identity.js';
import { richBody } from '../rich-text.js';
import type { UserDirectory } from '../users.js';

/** What drawing a message needs besides the message. */
export interface MessageContext {
  me: User;
  users: UserDirectory;
  /** In a group every sender is named, with `@username`. */
  group: boolean;
  /** The first of a run from one sender: name and avatar. */
  startsRun: boolean;
  /** The time is shown once per run; it is always in the time element's title. */
  showTime: boolean;
  /** The message a reply answers: undefined while it loads. */
  quoted?: (id: string) => Message | undefined;
  openThread?: (root: Message) => void;
  toggleReaction: (message: Message, emoji: string, reacted: boolean) => void;
  /** Names of who reacted with an emoji, for the chip's tooltip. */
  whoReacted: (message: Message, emoji: string) => Promise<string[]>;
  /** The message's thumbnails and files, under its body. */
  attachments?: (message: Message) => HTMLElement | null;
}

/**
 * A text message's bubble: who and when, the quote it answers, the body (links and mentions
 * marked), then the blocks under the body. `replacement` stands in for the body (the edit form).
 */
export function messageBubble(message: Message, context: MessageContext, replacement?: HTMLElement): HTMLElement {
  const blocks: Array<HTMLElement | null> = [
    messageMeta(message, context),
    message.replyToId && context.quoted ? quote(message.replyToId, context) : null,
    replacement ?? messageBody(message, context),
    replacement || message.deletedAt ? null : (context.attachments?.(message) ?? null),
  ];
  return el('div', { class: 'bubble' }, ...blocks);
}

function messageMeta(message: Message, { me, users, group, startsRun, showTime }: MessageContext): HTMLElement | null {
  const mine = message.senderId === me.id;
  const name = users.name(message.senderId);
  const showName = group && startsRun && !mine;
  const edited = message.editedAt && !message.deletedAt;
  if (!showName && !showTime && !edited && !message.pinned) return null;
  return el(
    'div',
    { class: 'message-meta' },
    showName ? el('span', { class: 'message-sender', attrs: { dir: 'auto' } }, name) : null,
    showName ? usernameSuffix(name, users.username(message.senderId)) : null,
    el(
      'time',
      { class: showTime ? undefined : 'visually-hidden', attrs: { datetime: message.createdAt, title: formatFull(message.createdAt) } },
      formatTime(message.createdAt),
    ),
    edited ? el('span', { class: 'message-edited', attrs: { title: `Edited ${formatFull(message.editedAt!)}` } }, 'edited') : null,
    message.pinned && !message.deletedAt ? el('span', { class: 'message-pinned', testid: 'pinned-mark' }, 'pinned') : null,
  );
}

/** The body as text nodes, links and mentions; a tombstone says it was deleted. */
export function messageBody(message: Message, { me, users }: Pick<MessageContext, 'me' | 'users'>): HTMLElement {
  if (message.deletedAt) return el('p', { class: 'message-body' }, 'This message was deleted.');
  const usernames = new Set(
    message.mentionedUserIds.map((id) => users.username(id)?.toLowerCase()).filter((name): name is string => !!name),
  );
  return el(
    'p',
    { class: 'message-body', testid: 'message-body', attrs: { dir: 'auto' } },
    ...richBody(message.body ?? '', { usernames, mine: me.username.toLowerCase() }),
  );
}

/** The quoted message a reply answers: its sender and the start of its body. */
function quote(id: string, context: MessageContext): HTMLElement {
  const quoted = context.quoted?.(id);
  const text = !quoted ? '…' : quoted.deletedAt ? 'This message was deleted.' : snippet(quoted.body ?? '', 120);
  return el(
    'blockquote',
    { class: 'quote', testid: 'quote' },
    quoted ? el('span', { class: 'quote-sender', attrs: { dir: 'auto' } }, context.users.name(quoted.senderId)) : null,
    el('span', { class: 'quote-text', attrs: { dir: 'auto' } }, text),
  );
}

/** Reaction chips, pressed where the caller reacted; each toggles, and names who reacted on hover or focus. */
export function reactionChips(message: Message, context: MessageContext): HTMLElement | null {
  if (message.deletedAt || message.reactions.length === 0) return null;
  return el(
    'div',
    { class: 'reactions', attrs: { role: 'group', 'aria-label': 'Reactions' } },
    ...message.reactions.map((reaction) => {
      const chip = el(
        'button',
        {
          class: 'reaction',
          testid: 'reaction',
          attrs: { type: 'button', 'aria-pressed': String(reaction.reacted), 'data-emoji': reaction.emoji },
          on: { click: () => context.toggleReaction(message, reaction.emoji, reaction.reacted) },
        },
        el('span', {}, reaction.emoji),
        el('span', { class: 'reaction-count' }, String(reaction.count)),
      );
      const explain = (): void => {
        if (chip.title) return;
        chip.title = '…';
        void context.whoReacted(message, reaction.emoji).then(
          (names) => (chip.title = `${names.join(', ')} reacted with ${reaction.emoji}`),
          () => chip.removeAttribute('title'),
        );
      };
      chip.addEventListener('pointerenter', explain);
      chip.addEventListener('focus', explain);
      return chip;
    }),
  );
}

/** "N replies" under a thread's root: opens the thread beside the conversation. */
export function threadButton(message: Message, context: MessageContext): HTMLElement | null {
  if (!context.openThread || message.replyCount === 0) return null;
  const open = context.openThread;
  return el(
    'button',
    { class: 'link thread-link', testid: 'thread-link', attrs: { type: 'button' }, on: { click: () => open(message) } },
    `${message.replyCount} ${message.replyCount === 1 ? 'reply' : 'replies'}`,
  );
}

/** A sender's avatar at the start of a run of others' messages in a group. */
export function senderAvatar(message: Message, context: MessageContext): HTMLElement | null {
  if (!context.group || message.senderId === context.me.id) return null;
  if (!context.startsRun) return el('span', { class: 'avatar-space', attrs: { 'aria-hidden': 'true' } });
  return avatar(message.senderId, context.users.name(message.senderId), 'avatar message-avatar');
}

/** One line of a body, cut at `max` characters. */
export function snippet(body: string, max = 80): string {
  const line = body.replace(/\s+/g, ' ').trim();
  const chars = [...line];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : line;
}
