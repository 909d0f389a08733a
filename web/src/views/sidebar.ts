import type { Conversation, ParleyApi, User } from '@parley/client';
import { conversationTitle } from '../conversation-title.js';
import type { ConversationStore } from '../conversations.js';
import type { PresenceStore } from '../presence.js';
import { el, formatActivity, formatFull, reconcile, setAttr, setChildren } from '../dom.js';
import { avatar } from '../identity.js';
import { systemText } from '../system-text.js';
import type { UserDirectory } from '../users.js';
import { openGroupDialog } from './group-dialog.js';
import { snippet } from './message-content.js';
import { messageSearch } from './message-search.js';
import { peopleSearch } from './people-search.js';
import { presenceDot } from './presence-dot.js';

export interface SidebarOptions {
  api: ParleyApi;
  me: User;
  conversations: ConversationStore;
  users: UserDirectory;
  presence: PresenceStore;
  /** The conversation shown on the right, if any (it shows no unread count). */
  openId: () => string | undefined;
  open: (conversationId: string) => void;
  /** Opens a conversation at a message (a search result). */
  openAt: (conversationId: string, seq: number) => void;
}

/** The other person of a direct conversation. */
function otherMember(conversation: Conversation, me: User): string | undefined {
  return conversation.type === 'direct' ? conversation.memberIds.find((id) => id !== me.id) : undefined;
}

/** The newest message as one line: "You: …", "Alice: …" in groups, a system message as its sentence. */
function preview(conversation: Conversation, me: User, users: UserDirectory): string {
  const message = conversation.lastMessage;
  if (!message) return conversation.type === 'group' ? `Group · ${conversation.memberIds.length} members` : 'No messages yet';
  if (message.kind === 'system') return systemText(message, users, me.id);
  const text = message.deletedAt ? 'Message deleted' : snippet(message.body ?? '') || 'Attachment';
  if (message.senderId === me.id) return `You: ${text}`;
  return conversation.type === 'group' ? `${users.name(message.senderId)}: ${text}` : text;
}

/**
 * Search messages, find people, start a group, and the conversation list (newest activity
 * first) with previews, unread and mention counts. The list is one Tab stop: arrow keys move
 * through it (roving tabindex).
 */
export class Sidebar {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly empty: HTMLElement;
  private readonly error = el('p', { class: 'form-error', attrs: { role: 'alert' } });
  /** Offers shown above the list (the notifications hint). */
  private readonly notices = el('div', { class: 'sidebar-notices' });
  private readonly items = new Map<string, HTMLLIElement>();

  constructor(private readonly options: SidebarOptions) {
    const { api, users, conversations, presence } = options;
    const search = peopleSearch({
      api,
      label: 'Find people',
      testid: 'user-search',
      placeholder: 'Search by name to start a chat',
      onSeen: (user) => users.remember(user),
      onPick: (user) => void this.startDirect(user),
      decorate: (user) => presenceDot(presence, user.id),
    });
    this.list = el('ul', { class: 'conversation-list', attrs: { 'aria-labelledby': 'conversations-title' } });
    this.list.addEventListener('keydown', (event) => this.moveFocus(event));
    this.empty = el('p', { class: 'muted list-empty', attrs: { role: 'status' } });
    const messages = messageSearch({
      api,
      me: options.me,
      conversations,
      users,
      openAt: options.openAt,
      onActive: (active) => this.element.classList.toggle('searching', active),
    });
    this.element = el(
      'aside',
      { class: 'sidebar', attrs: { 'aria-label': 'Conversations and people' } },
      messages,
      search.element,
      this.error,
      this.notices,
      el(
        'div',
        { class: 'list-header' },
        el('h2', { attrs: { id: 'conversations-title' } }, 'Conversations'),
        el(
          'button',
          {
            testid: 'new-group',
            attrs: { type: 'button' },
            on: {
              click: () =>
                openGroupDialog({
                  api,
                  presence,
                  onSeen: (user) => users.remember(user),
                  onDone: (conversation) => {
                    conversations.put(conversation);
                    options.open(conversation.id);
                  },
                }),
            },
          },
          'New group',
        ),
      ),
      this.empty,
      this.list,
    );
    conversations.changed.subscribe(() => this.render());
    users.changed.subscribe(() => this.render());
    presence.changed.subscribe(() => this.render());
    this.render();
  }

  render(): void {
    const { conversations } = this.options;
    const sorted = conversations.sorted();
    this.empty.textContent = conversations.loaded ? 'No conversations yet. Find someone above to start one.' : 'Loading conversations…';
    this.empty.hidden = sorted.length > 0;
    const seen = new Set<string>();
    const elements = sorted.map((conversation) => {
      seen.add(conversation.id);
      return this.renderItem(conversation);
    });
    for (const id of [...this.items.keys()]) if (!seen.has(id)) this.items.delete(id);
    reconcile(this.list, elements);
    this.keepOneTabStop();
  }

  /** The open conversation (else the first) is the list's one Tab stop, unless focus is on another. */
  private keepOneTabStop(): void {
    const buttons = this.buttons();
    const focused = buttons.find((button) => button === document.activeElement);
    const stop = focused ?? buttons.find((button) => button.getAttribute('aria-current') === 'true') ?? buttons[0];
    for (const button of buttons) button.tabIndex = button === stop ? 0 : -1;
  }

  private buttons(): HTMLButtonElement[] {
    return Array.from(this.list.querySelectorAll<HTMLButtonElement>('button.conversation'));
  }

  private moveFocus(event: KeyboardEvent): void {
    const buttons = this.buttons();
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (index < 0) return;
    const next =
      event.key === 'ArrowDown' ? buttons[Math.min(index + 1, buttons.length - 1)]
      : event.key === 'ArrowUp' ? buttons[Math.max(index - 1, 0)]
      : event.key === 'Home' ? buttons[0]
      : event.key === 'End' ? buttons.at(-1)
      : undefined;
    if (!next) return;
    event.preventDefault();
    for (const button of buttons) button.tabIndex = button === next ? 0 : -1;
    next.focus();
  }

  addNotice(element: HTMLElement): void {
    this.notices.append(element);
  }

  private renderItem(conversation: Conversation): HTMLLIElement {
    const { me, users, presence } = this.options;
    let item = this.items.get(conversation.id);
    if (!item) {
      item = el(
        'li',
        {},
        el('button', {
          testid: 'conversation',
          class: 'conversation',
          attrs: { type: 'button', 'data-conversation-id': conversation.id },
          on: { click: () => this.options.open(conversation.id) },
        }),
      );
      this.items.set(conversation.id, item);
    }
    const button = item.firstElementChild as HTMLButtonElement;
    const isOpen = this.options.openId() === conversation.id;
    const unread = isOpen ? 0 : conversation.unreadCount;
    const mentions = isOpen ? 0 : conversation.mentionCount;
    const title = conversationTitle(conversation, me, users);
    const other = otherMember(conversation, me);
    // Two direct conversations with the same name: the usernames tell them apart.
    const username = other && this.sameTitles(title) ? users.username(other) : undefined;
    const detail = preview(conversation, me, users);
    // A direct conversation shows whether the other person is online, on the avatar.
    const status = other ? presence.get(other)?.status : undefined;
    // Rebuilt only when something shown changed, so a focused item keeps its focus.
    const signature = JSON.stringify([title, username, detail, unread, mentions, conversation.updatedAt, isOpen, status, conversation.muted]);
    if (button.dataset.signature === signature) return item;
    button.dataset.signature = signature;
    button.dataset.unread = String(unread);
    setAttr(button, 'aria-current', isOpen ? 'true' : null);
    // No aria-label: the name is the visible text (title, preview, time, counts), so it always contains it.
    const face = avatar(other ?? conversation.id, title, 'avatar conversation-avatar');
    if (other) face.append(presenceDot(presence, other));
    setChildren(
      button,
      face,
      el(
        'span',
        { class: 'conversation-text' },
        el(
          'span',
          { class: 'conversation-name' },
          el('span', { class: 'conversation-title', attrs: { dir: 'auto' } }, title),
          username ? el('span', { class: 'username muted' }, ` @${username}`) : null,
          conversation.muted ? el('span', { class: 'muted-icon', testid: 'muted-icon', attrs: { role: 'img', 'aria-label': 'Muted', title: 'Notifications muted' } }, '🔕') : null,
          status ? el('span', { class: 'visually-hidden' }, `, ${status}`) : null,
        ),
        el('span', { class: 'conversation-detail muted', testid: 'conversation-preview', attrs: { dir: 'auto' } }, detail),
      ),
      el(
        'span',
        { class: 'conversation-side' },
        el('time', { class: 'muted', attrs: { datetime: conversation.updatedAt, title: formatFull(conversation.updatedAt) } }, formatActivity(conversation.updatedAt)),
        el(
          'span',
          { class: 'badges' },
          mentions > 0 ? el('span', { class: 'badge mention-badge', testid: 'mention-count', attrs: { title: 'Mentions of you' } }, el('span', { attrs: { 'aria-hidden': 'true' } }, '@'), el('span', { class: 'visually-hidden' }, `${mentions} mentioning you`)) : null,
          unread > 0 ? el('span', { class: 'badge', testid: 'unread-count', attrs: { 'aria-hidden': 'true' } }, unread > 99 ? '99+' : unread) : null,
          unread > 0 ? el('span', { class: 'visually-hidden' }, `, ${unread} unread`) : null,
        ),
      ),
    );
    return item;
  }

  private sameTitles(title: string): boolean {
    const { conversations, me, users } = this.options;
    return conversations.sorted().filter((conversation) => conversation.type === 'direct' && conversationTitle(conversation, me, users) === title).length > 1;
  }

  private async startDirect(user: User): Promise<void> {
    this.error.textContent = '';
    try {
      const conversation = await this.options.api.openDirect(user.id);
      this.options.conversations.put(conversation);
      this.options.open(conversation.id);
    } catch (error) {
      this.error.textContent = error instanceof Error ? error.message : 'Could not open the conversation.';
    }
  }
}
