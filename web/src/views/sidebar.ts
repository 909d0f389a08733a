import type { Api, Conversation, User } from '../api.js';
import type { ConversationStore } from '../conversations.js';
import { el, formatActivity, formatFull, reconcile, setAttr, setChildren } from '../dom.js';
import type { UserDirectory } from '../users.js';
import { openGroupDialog } from './group-dialog.js';
import { peopleSearch } from './people-search.js';

export interface SidebarOptions {
  api: Api;
  me: User;
  conversations: ConversationStore;
  users: UserDirectory;
  /** The conversation shown on the right, if any (it shows no unread count). */
  openId: () => string | undefined;
  open: (conversationId: string) => void;
}

/** The name of a conversation: a group's title, or the other person in a direct one. */
export function conversationTitle(conversation: Conversation, me: User, users: UserDirectory): string {
  if (conversation.type === 'group') return conversation.title || 'Untitled group';
  const other = conversation.memberIds.find((id) => id !== me.id);
  return other ? users.name(other) : 'Just you';
}

/** Find people, start a group, and the conversation list with unread counts, newest activity first. */
export class Sidebar {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly empty: HTMLElement;
  private readonly error = el('p', { class: 'form-error', attrs: { role: 'alert' } });
  private readonly items = new Map<string, HTMLLIElement>();

  constructor(private readonly options: SidebarOptions) {
    const { api, users, conversations } = options;
    const search = peopleSearch({
      api,
      label: 'Find people',
      testid: 'user-search',
      placeholder: 'Search by name to start a chat',
      onSeen: (user) => users.remember(user),
      onPick: (user) => void this.startDirect(user),
    });
    this.list = el('ul', { class: 'conversation-list', attrs: { 'aria-labelledby': 'conversations-title' } });
    this.empty = el('p', { class: 'muted list-empty' }, 'No conversations yet. Find someone above to start one.');
    this.element = el(
      'aside',
      { class: 'sidebar', attrs: { 'aria-label': 'Conversations and people' } },
      search.element,
      this.error,
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
    this.render();
  }

  render(): void {
    const { conversations } = this.options;
    const sorted = conversations.sorted();
    this.empty.hidden = sorted.length > 0 || !conversations.loaded;
    const seen = new Set<string>();
    const elements = sorted.map((conversation) => {
      seen.add(conversation.id);
      return this.renderItem(conversation);
    });
    for (const id of [...this.items.keys()]) if (!seen.has(id)) this.items.delete(id);
    reconcile(this.list, elements);
  }

  private renderItem(conversation: Conversation): HTMLLIElement {
    const { me, users } = this.options;
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
    const title = conversationTitle(conversation, me, users);
    const detail =
      conversation.type === 'group'
        ? `Group · ${conversation.memberIds.length} ${conversation.memberIds.length === 1 ? 'member' : 'members'}`
        : (() => {
            const other = conversation.memberIds.find((id) => id !== me.id);
            const username = other ? users.username(other) : undefined;
            return username ? `@${username}` : 'Direct';
          })();
    // Rebuilt only when something shown changed, so a focused item keeps its focus.
    const signature = JSON.stringify([title, detail, unread, conversation.updatedAt, isOpen]);
    if (button.dataset.signature === signature) return item;
    button.dataset.signature = signature;
    button.dataset.unread = String(unread);
    setAttr(button, 'aria-current', isOpen ? 'true' : null);
    setAttr(button, 'aria-label', `${title}${unread ? `, ${unread} unread` : ''}`);
    setChildren(
      button,
      el('span', { class: 'conversation-avatar', attrs: { 'aria-hidden': 'true' } }, initials(title)),
      el(
        'span',
        { class: 'conversation-text' },
        el('span', { class: 'conversation-title' }, title),
        el('span', { class: 'conversation-detail muted' }, detail),
      ),
      el(
        'span',
        { class: 'conversation-side' },
        el('time', { class: 'muted', attrs: { datetime: conversation.updatedAt, title: formatFull(conversation.updatedAt) } }, formatActivity(conversation.updatedAt)),
        unread > 0 ? el('span', { class: 'badge', testid: 'unread-count' }, unread > 99 ? '99+' : unread) : null,
      ),
    );
    return item;
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

function initials(name: string): string {
  const letters = Array.from(name.trim()).filter((c) => /\p{L}|\p{N}/u.test(c));
  return (letters[0] ?? '?').toUpperCase();
}
