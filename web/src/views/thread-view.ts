import type { Api, Conversation, Message, User } from '../api.js';
import type { ConversationStore } from '../conversations.js';
import { el, formatFull, formatTime, reconcile, setChildren } from '../dom.js';
import type { PendingMessage } from '../outbox.js';
import type { Thread, ThreadChange } from '../thread.js';
import type { UserDirectory } from '../users.js';
import { openGroupDialog } from './group-dialog.js';
import { conversationTitle } from './sidebar.js';

export interface ThreadViewOptions {
  api: Api;
  me: User;
  thread: Thread;
  conversations: ConversationStore;
  users: UserDirectory;
  /** Unsent text by conversation: the composer starts with this one's and keeps it up to date. */
  drafts: Map<string, string>;
  back: () => void;
}

const MAX_BODY = 4000;
/** Within this many pixels of the bottom, new messages keep the log scrolled to the bottom. */
const STICK_PX = 80;

/**
 * One conversation: the message log (older pages on scroll or with the button), and the
 * composer (Enter sends, Shift+Enter adds a line). The user's own messages can be edited and
 * deleted in place. Bodies and names are set as text, never parsed as markup.
 */
export class ThreadView {
  readonly element: HTMLElement;
  private readonly title = el('h2', { class: 'thread-title', attrs: { id: 'thread-title' } });
  private readonly subtitle = el('p', { class: 'thread-subtitle muted' });
  private readonly addPeople: HTMLButtonElement;
  private readonly log: HTMLElement;
  private readonly list = el('ol', { class: 'messages' });
  private readonly olderButton: HTMLButtonElement;
  private readonly notice = el('p', { class: 'thread-notice muted' });
  private readonly jumpToNewest: HTMLButtonElement;
  private readonly composer: HTMLTextAreaElement;
  private readonly composerError = el('p', { class: 'form-error composer-error', testid: 'composer-error', attrs: { id: 'composer-error', role: 'alert' } });
  private readonly items = new Map<string, HTMLLIElement>();
  private readonly observer: IntersectionObserver;
  private readonly unsubscribe: Array<() => void> = [];
  /** The message being edited, and the one asking "delete?". */
  private editingId: string | undefined;
  private confirmingDeleteId: string | undefined;
  private actionError: { id: string; text: string } | undefined;

  constructor(private readonly options: ThreadViewOptions) {
    const { thread } = options;
    this.addPeople = el(
      'button',
      { class: 'add-people', attrs: { type: 'button' }, on: { click: () => this.openAddPeople() } },
      'Add people',
    );
    this.olderButton = el(
      'button',
      { class: 'load-older', testid: 'load-older', attrs: { type: 'button' }, on: { click: () => thread.loadOlder() } },
      'Load older messages',
    );
    this.jumpToNewest = el(
      'button',
      { class: 'jump-newest', testid: 'jump-newest', attrs: { type: 'button' }, on: { click: () => this.scrollToNewest() } },
      'New messages ↓',
    );
    this.log = el(
      'div',
      { class: 'log', attrs: { role: 'log', 'aria-label': 'Messages', tabindex: 0 } },
      el('div', { class: 'older' }, this.olderButton),
      this.notice,
      this.list,
      this.jumpToNewest,
    );
    // The read marker follows what is in view: not while the reader is up in the history.
    this.log.addEventListener('scroll', () => this.reportAtEnd(), { passive: true });
    this.composer = el('textarea', {
      testid: 'composer',
      // No maxlength: it counts UTF-16 units (an emoji is two) and cuts pasted text silently.
      attrs: { id: 'composer', rows: 1, placeholder: 'Write a message…', 'aria-describedby': 'composer-hint composer-error' },
    });
    const composerForm = el(
      'form',
      { class: 'composer', attrs: { 'aria-label': 'Send a message' } },
      el('label', { class: 'visually-hidden', attrs: { for: 'composer' } }, 'Message'),
      this.composer,
      el('button', { testid: 'send', class: 'primary', attrs: { type: 'submit' } }, 'Send'),
      el('p', { class: 'visually-hidden', attrs: { id: 'composer-hint' } }, 'Enter sends; Shift+Enter starts a new line.'),
    );
    this.element = el(
      'section',
      { class: 'thread', attrs: { 'aria-labelledby': 'thread-title' } },
      el(
        'header',
        { class: 'thread-header' },
        el('button', { class: 'back', attrs: { type: 'button', 'aria-label': 'Back to conversations' }, on: { click: options.back } }, '←'),
        el('div', { class: 'thread-heading' }, this.title, this.subtitle),
        this.addPeople,
      ),
      this.log,
      this.composerError,
      composerForm,
    );

    composerForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.send();
    });
    this.composer.addEventListener('keydown', (event) => {
      // isComposing: Enter that confirms an IME composition is not a send.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    this.composer.value = options.drafts.get(thread.id) ?? '';
    this.composer.addEventListener('input', () => {
      this.composerError.textContent = '';
      this.saveDraft();
      this.fitComposer();
    });

    // Older pages load by themselves when the top of the log scrolls into view.
    this.observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) thread.loadOlder();
      },
      { root: this.log, rootMargin: '200px 0px 0px 0px' },
    );
    this.observer.observe(this.olderButton);

    this.unsubscribe.push(
      thread.changed.subscribe((change) => this.render(change)),
      options.conversations.changed.subscribe(() => this.renderHeader()),
      options.users.changed.subscribe(() => this.render('update')),
    );
    this.render('reset');
  }

  destroy(): void {
    this.observer.disconnect();
    for (const off of this.unsubscribe) off();
  }

  focusComposer(): void {
    this.composer.focus();
  }

  private conversation(): Conversation | undefined {
    return this.options.conversations.get(this.options.thread.id) ?? this.options.thread.conversation;
  }

  private send(): void {
    const body = this.composer.value.trim();
    if (!body) return;
    // Counted as the server counts it: in characters (code points), not UTF-16 units.
    const length = [...body].length;
    if (length > MAX_BODY) {
      this.composerError.textContent = `This message is ${length.toLocaleString()} characters long; the most is ${MAX_BODY.toLocaleString()}.`;
      return;
    }
    // Sending needs no history: a message written while the page loads goes at once.
    this.options.thread.send(body);
    this.composer.value = '';
    this.saveDraft();
    this.fitComposer();
  }

  private saveDraft(): void {
    if (this.composer.value) this.options.drafts.set(this.options.thread.id, this.composer.value);
    else this.options.drafts.delete(this.options.thread.id);
  }

  private fitComposer(): void {
    this.composer.style.height = 'auto';
    this.composer.style.height = `${Math.min(this.composer.scrollHeight + 2, 160)}px`;
  }

  private renderHeader(): void {
    const conversation = this.conversation();
    const { me, users } = this.options;
    if (!conversation) {
      this.title.textContent = this.options.thread.status === 'failed' ? 'Conversation' : 'Loading…';
      this.subtitle.textContent = '';
      this.addPeople.hidden = true;
      return;
    }
    this.title.textContent = conversationTitle(conversation, me, users);
    const others = conversation.memberIds.filter((id) => id !== me.id);
    if (conversation.type === 'group') {
      this.subtitle.textContent = ['You', ...others.map((id) => users.name(id))].join(', ');
    } else {
      const username = others[0] ? users.username(others[0]) : undefined;
      this.subtitle.textContent = username ? `@${username}` : '';
    }
    this.addPeople.hidden = !(conversation.type === 'group' && conversation.ownerId === me.id);
  }

  private render(change: ThreadChange): void {
    const { thread } = this.options;
    const log = this.log;
    const fromBottom = log.scrollHeight - log.scrollTop;
    const nearBottom = this.isAtEnd();

    this.renderHeader();
    this.olderButton.hidden = !thread.hasOlder;
    this.olderButton.disabled = thread.loadingOlder;
    this.olderButton.textContent = thread.loadingOlder ? 'Loading…' : 'Load older messages';
    const messages = thread.ordered();
    this.notice.textContent =
      thread.status === 'loading' && messages.length === 0
        ? 'Loading messages…'
        : thread.status === 'failed'
          ? (thread.error ?? 'Could not load this conversation.')
          : messages.length === 0 && thread.pending.length === 0
            ? 'No messages yet. Say hello!'
            : '';
    this.notice.hidden = !this.notice.textContent;

    const elements: HTMLLIElement[] = [];
    const seen = new Set<string>();
    let previous: Message | undefined;
    for (const message of messages) {
      const key = `m:${message.id}`;
      seen.add(key);
      elements.push(this.messageItem(key, message, previous));
      previous = message;
    }
    for (const pending of thread.pending) {
      const key = `p:${pending.clientMessageId}`;
      seen.add(key);
      elements.push(this.pendingItem(key, pending));
    }
    for (const key of [...this.items.keys()]) if (!seen.has(key)) this.items.delete(key);
    reconcile(this.list, elements);

    if (change === 'reset' || change === 'own' || (change === 'newer' && nearBottom)) {
      log.scrollTop = log.scrollHeight;
    } else if (change === 'older') {
      log.scrollTop = log.scrollHeight - fromBottom;
    }
    this.reportAtEnd();
  }

  /** Whether the log is scrolled (within STICK_PX) to its newest message. */
  private isAtEnd(): boolean {
    const log = this.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < STICK_PX;
  }

  private reportAtEnd(): void {
    const atEnd = this.isAtEnd();
    this.options.thread.setAtEnd(atEnd);
    this.jumpToNewest.hidden = atEnd || !this.options.thread.hasUnread;
  }

  private scrollToNewest(): void {
    this.log.scrollTop = this.log.scrollHeight;
    this.reportAtEnd();
  }

  private item(key: string, signature: string): { item: HTMLLIElement; stale: boolean } {
    let item = this.items.get(key);
    if (!item) {
      item = el('li', { testid: 'message', class: 'message' });
      this.items.set(key, item);
    }
    const stale = item.dataset.signature !== signature;
    item.dataset.signature = signature;
    return { item, stale };
  }

  private messageItem(key: string, message: Message, previous: Message | undefined): HTMLLIElement {
    const { me, users } = this.options;
    const mine = message.senderId === me.id;
    const group = this.conversation()?.type === 'group';
    // A run of messages from one sender shows the name once.
    const showName = group && !mine && previous?.senderId !== message.senderId;
    const name = users.name(message.senderId);
    const editing = this.editingId === message.id && !message.deletedAt;
    const confirming = this.confirmingDeleteId === message.id && !message.deletedAt;
    const error = this.actionError?.id === message.id ? this.actionError.text : '';
    const signature = JSON.stringify([message.changeSeq, showName, name, editing, confirming, error]);
    const { item, stale } = this.item(key, signature);
    if (!stale) return item;

    item.className = `message${mine ? ' mine' : ''}${message.deletedAt ? ' deleted' : ''}${editing ? ' editing' : ''}`;
    item.dataset.seq = String(message.seq);
    item.dataset.id = message.id;
    delete item.dataset.state;
    const meta = el(
      'div',
      { class: 'message-meta' },
      showName ? el('span', { class: 'message-sender' }, name) : null,
      el('time', { attrs: { datetime: message.createdAt, title: formatFull(message.createdAt) } }, formatTime(message.createdAt)),
      message.editedAt && !message.deletedAt
        ? el('span', { class: 'message-edited', attrs: { title: `Edited ${formatFull(message.editedAt)}` } }, 'edited')
        : null,
    );
    const body = message.deletedAt
      ? el('p', { class: 'message-body' }, 'This message was deleted.')
      : editing
        ? this.editForm(message)
        : el('p', { class: 'message-body', testid: 'message-body' }, message.body ?? '');
    const actions =
      mine && !message.deletedAt && !editing
        ? confirming
          ? el(
              'div',
              { class: 'message-actions confirming', attrs: { role: 'group', 'aria-label': 'Delete this message?' } },
              el('span', {}, 'Delete?'),
              el('button', { class: 'danger', testid: 'confirm-delete', attrs: { type: 'button' }, on: { click: () => void this.remove(message.id) } }, 'Delete'),
              el('button', { class: 'keep', attrs: { type: 'button' }, on: { click: () => this.setConfirming(undefined, message.id) } }, 'Keep'),
            )
          : el(
              'div',
              { class: 'message-actions' },
              el('button', { testid: 'edit', attrs: { type: 'button', 'aria-label': 'Edit message' }, on: { click: () => this.setEditing(message.id) } }, 'Edit'),
              el('button', { testid: 'delete', attrs: { type: 'button', 'aria-label': 'Delete message' }, on: { click: () => this.setConfirming(message.id) } }, 'Delete'),
            )
        : null;
    setChildren(item, el('div', { class: 'bubble' }, meta, body), actions, error ? el('p', { class: 'form-error', attrs: { role: 'alert' } }, error) : null);
    if (confirming) queueMicrotask(() => item.querySelector<HTMLButtonElement>('.keep')?.focus());
    return item;
  }

  private pendingItem(key: string, pending: PendingMessage): HTMLLIElement {
    const signature = JSON.stringify([pending.state, pending.error, pending.offline]);
    const { item, stale } = this.item(key, signature);
    if (!stale) return item;
    item.className = `message mine pending${pending.state === 'failed' ? ' failed' : ''}`;
    item.dataset.state = pending.state === 'failed' ? 'failed' : 'pending';
    delete item.dataset.seq;
    const { thread } = this.options;
    setChildren(
      item,
      el(
        'div',
        { class: 'bubble' },
        el(
          'div',
          { class: 'message-meta' },
          pending.state === 'sending'
            ? 'Sending…'
            : pending.offline
              ? 'Not sent yet: it goes when the connection is back.'
              : `Not sent: ${pending.error ?? 'error'}`,
        ),
        el('p', { class: 'message-body' }, pending.body),
      ),
      pending.state === 'failed'
        ? el(
            'div',
            { class: 'message-actions always' },
            el('button', { attrs: { type: 'button' }, on: { click: () => thread.retry(pending.clientMessageId) } }, 'Retry'),
            el('button', { attrs: { type: 'button' }, on: { click: () => thread.discard(pending.clientMessageId) } }, 'Discard'),
          )
        : null,
    );
    return item;
  }

  private editForm(message: Message): HTMLFormElement {
    const input = el('textarea', {
      class: 'edit-input',
      testid: 'edit-input',
      // No maxlength, as in the composer: the server's answer says when it is too long.
      attrs: { rows: 2, 'aria-label': 'Edit message' },
    });
    input.value = message.body ?? '';
    const form = el(
      'form',
      { class: 'edit-form' },
      input,
      el(
        'div',
        { class: 'edit-actions' },
        el('button', { attrs: { type: 'button' }, on: { click: () => this.setEditing(undefined, message.id) } }, 'Cancel'),
        el('button', { class: 'primary', testid: 'save-edit', attrs: { type: 'submit' } }, 'Save'),
      ),
    );
    const save = (): void => {
      const body = input.value.trim();
      if (!body || body === message.body) return this.setEditing(undefined, message.id);
      void this.runAction(message.id, () => this.options.thread.edit(message.id, body), () => {
        this.editingId = undefined;
      });
    };
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      save();
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      } else if (event.key === 'Escape') {
        event.preventDefault();
        this.setEditing(undefined, message.id);
      }
    });
    queueMicrotask(() => {
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    });
    return form;
  }

  /** Starts (id) or ends (undefined) editing; ending returns focus to the message's Edit button. */
  private setEditing(id: string | undefined, returnFocusTo?: string): void {
    this.editingId = id;
    this.confirmingDeleteId = undefined;
    this.actionError = undefined;
    this.render('update');
    if (returnFocusTo) this.focusAction(returnFocusTo, 'edit');
  }

  private setConfirming(id: string | undefined, returnFocusTo?: string): void {
    this.confirmingDeleteId = id;
    this.editingId = undefined;
    this.actionError = undefined;
    this.render('update');
    if (returnFocusTo) this.focusAction(returnFocusTo, 'delete');
  }

  private async remove(id: string): Promise<void> {
    await this.runAction(id, () => this.options.thread.remove(id), () => {
      this.confirmingDeleteId = undefined;
    });
    // The message is a tombstone now, without buttons: keep the keyboard in the log.
    if (!this.element.contains(document.activeElement)) this.composer.focus();
  }

  private async runAction(id: string, action: () => Promise<void>, onSuccess: () => void): Promise<void> {
    this.actionError = undefined;
    try {
      await action();
      onSuccess();
      this.render('update');
      if (this.editingId === undefined) this.focusAction(id, 'edit');
    } catch (error) {
      this.actionError = { id, text: error instanceof Error ? error.message : 'That did not work.' };
      this.render('update');
    }
  }

  private focusAction(messageId: string, testid: string): void {
    this.items.get(`m:${messageId}`)?.querySelector<HTMLElement>(`[data-testid="${testid}"]`)?.focus();
  }

  private openAddPeople(): void {
    const conversation = this.conversation();
    if (!conversation) return;
    openGroupDialog({
      api: this.options.api,
      conversation,
      onSeen: (user) => this.options.users.remember(user),
      onDone: (updated) => this.options.conversations.put(updated),
    });
  }
}
