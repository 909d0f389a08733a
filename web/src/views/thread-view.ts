import type { Conversation, Message, ParleyApi, ParleyClient, PendingMessage, User } from '@parley/client';
import { errorText } from '../errors.js';
import type { ConversationStore } from '../conversations.js';
import type { PresenceStore } from '../presence.js';
import { el, reconcile, setChildren } from '../dom.js';
import { systemText } from '../system-text.js';
import type { Thread, ThreadChange } from '../thread.js';
import type { Typing } from '../typing.js';
import type { UserDirectory } from '../users.js';
import { AttachTray, type Upload } from './attach-tray.js';
import { groupInfoPanel } from './group-info-panel.js';
import { openGroupDialog } from './group-dialog.js';
import { MentionCompletion } from './mention-completion.js';
import { MessageAttachments } from './message-attachments.js';
import { messageBubble, reactionChips, senderAvatar, snippet, threadButton, type MessageContext } from './message-content.js';
import { closeMessageMenu, showMessageMenu, type MenuItem } from './message-menu.js';
import { pinsPanel } from './pins-panel.js';
import { PresenceLine } from './presence-dot.js';
import { SidePanel } from './side-panel.js';
import { conversationTitle } from '../conversation-title.js';
import { threadPanel } from './thread-panel.js';
import { TypingIndicator } from './typing-indicator.js';

export interface ThreadViewOptions {
  api: ParleyApi;
  client: ParleyClient;
  me: User;
  thread: Thread;
  conversations: ConversationStore;
  users: UserDirectory;
  typing: Typing;
  presence: PresenceStore;
  upload: Upload;
  /** Unsent text by conversation: the composer starts with this one's and keeps it up to date. */
  drafts: Map<string, string>;
  back: () => void;
}

const MAX_BODY = 4000;
/** Within this many pixels of the bottom, new messages keep the log scrolled to the bottom. */
const STICK_PX = 80;
/** Messages from one sender further apart than this start a new run (its own time). */
const RUN_GAP_MS = 60_000;
/** How long a message jumped to stays highlighted. */
const HIGHLIGHT_MS = 2500;

/**
 * One conversation: the message log (older pages on scroll or with the button), and the
 * composer (Enter sends, Shift+Enter adds a line, `@` completes members). Each message has a
 * menu (react, reply, pin, copy; edit and delete one's own); threads, pins and the group's
 * details open in a panel beside it. Bodies and names are set as text, never parsed as markup.
 */
export class ThreadView {
  readonly element: HTMLElement;
  private readonly title = el('h2', { class: 'thread-title', attrs: { id: 'thread-title', dir: 'auto' } });
  private readonly subtitle = el('p', { class: 'thread-subtitle muted', attrs: { dir: 'auto' } });
  private readonly presenceLine: PresenceLine;
  private readonly addPeople: HTMLButtonElement;
  private readonly pinsButton: HTMLButtonElement;
  private readonly infoButton: HTMLButtonElement;
  private readonly panel = new SidePanel();
  private readonly replyBar = el('div', { class: 'reply-bar', testid: 'reply-bar' });
  private readonly mentions: MentionCompletion;
  /** "Seen by …": moved under the caller's newest message at each render. */
  private readonly seenBy = el('p', { class: 'seen-by muted', testid: 'seen-by', attrs: { 'aria-live': 'polite' } });
  /** Says what a menu action did ("Copied"). */
  private readonly announcer = el('p', { class: 'visually-hidden', attrs: { role: 'status' } });
  private replyingTo: Message | undefined;
  private readonly log: HTMLElement;
  private readonly list = el('ol', { class: 'messages' });
  private readonly olderButton: HTMLButtonElement;
  private readonly notice = el('p', { class: 'thread-notice muted' });
  private readonly jumpToNewest: HTMLButtonElement;
  private readonly composer: HTMLTextAreaElement;
  private readonly composerError = el('p', { class: 'form-error composer-error', testid: 'composer-error', attrs: { id: 'composer-error', role: 'alert' } });
  private readonly items = new Map<string, HTMLLIElement>();
  private readonly observer: IntersectionObserver;
  private readonly typingIndicator: TypingIndicator;
  private readonly tray: AttachTray;
  private readonly attachments: MessageAttachments;
  private readonly unsubscribe: Array<() => void> = [];
  /** The message being edited, and the one asking "delete?". */
  private editingId: string | undefined;
  private confirmingDeleteId: string | undefined;
  private actionError: { id: string; text: string } | undefined;

  constructor(private readonly options: ThreadViewOptions) {
    const { thread } = options;
    this.presenceLine = new PresenceLine(options.presence);
    this.addPeople = el(
      'button',
      { class: 'add-people', attrs: { type: 'button' }, on: { click: () => this.openAddPeople() } },
      'Add people',
    );
    this.pinsButton = el('button', { testid: 'pins-button', attrs: { type: 'button' }, on: { click: () => this.openPins() } }, 'Pinned');
    this.infoButton = el('button', { testid: 'group-info-button', attrs: { type: 'button' }, on: { click: () => this.openGroupInfo() } }, 'Group info');
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
    this.mentions = new MentionCompletion(this.composer, () => this.mentionable());
    this.replyBar.hidden = true;
    this.tray = new AttachTray(options.upload, this.composer, () => this.composer.focus());
    this.attachments = new MessageAttachments(options.api);
    const composerForm = el(
      'form',
      { class: 'composer', attrs: { 'aria-label': 'Send a message' } },
      this.tray.button,
      el('label', { class: 'visually-hidden', attrs: { for: 'composer' } }, 'Message'),
      this.mentions.element,
      this.composer,
      el('button', { testid: 'send', class: 'primary', attrs: { type: 'submit' } }, 'Send'),
      el('p', { class: 'visually-hidden', attrs: { id: 'composer-hint' } }, 'Enter sends; Shift+Enter starts a new line; @ mentions someone.'),
    );
    this.typingIndicator = new TypingIndicator(thread.id, options.typing, options.users);
    const section = el(
      'section',
      { class: 'thread', attrs: { 'aria-labelledby': 'thread-title' } },
      el(
        'header',
        { class: 'thread-header' },
        el('button', { class: 'back', attrs: { type: 'button', 'aria-label': 'Back to conversations' }, on: { click: options.back } }, '←'),
        el('div', { class: 'thread-heading' }, this.title, el('div', { class: 'thread-subline' }, this.subtitle, this.presenceLine.element)),
        el('div', { class: 'thread-actions' }, this.pinsButton, this.infoButton, this.addPeople),
      ),
      this.log,
      this.typingIndicator.element,
      this.announcer,
      this.composerError,
      this.tray.element,
      this.replyBar,
      composerForm,
    );
    this.element = el('div', { class: 'conversation-view' }, section, this.panel.element);
    this.tray.acceptDrops(section);

    composerForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.send();
    });
    this.composer.addEventListener('keydown', (event) => {
      if (this.mentions.handleKey(event)) return;
      // isComposing: Enter that confirms an IME composition is not a send.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      } else if (event.key === 'Escape' && this.replyingTo) {
        event.preventDefault();
        this.setReplyingTo(undefined);
      }
    });
    this.composer.value = options.drafts.get(thread.id) ?? '';
    this.composer.addEventListener('input', () => {
      this.composerError.textContent = '';
      this.saveDraft();
      this.fitComposer();
      options.typing.typed(thread.id, this.composer.value);
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
    this.panel.close(false);
    closeMessageMenu();
    this.typingIndicator.destroy();
    this.tray.destroy();
    for (const off of this.unsubscribe) off();
  }

  /**
   * Shows a message in context: loads history back to it if needed, scrolls it into view and
   * highlights it for a moment.
   */
  async jumpTo(seq: number): Promise<void> {
    if (!(await this.options.thread.reveal(seq))) {
      this.announcer.textContent = 'That message is no longer here.';
      return;
    }
    const message = this.options.thread.ordered().find((candidate) => candidate.seq === seq);
    const item = message && this.items.get(`m:${message.id}`);
    if (!item) return;
    item.scrollIntoView({ block: 'center' });
    item.dataset.highlight = 'true';
    window.setTimeout(() => delete item.dataset.highlight, HIGHLIGHT_MS);
    this.reportAtEnd();
  }

  focusComposer(): void {
    this.composer.focus();
  }

  private conversation(): Conversation | undefined {
    return this.options.conversations.get(this.options.thread.id) ?? this.options.thread.conversation;
  }

  private send(): void {
    const body = this.composer.value.trim();
    if (this.tray.uploading) {
      this.composerError.textContent = 'Wait until the files have uploaded, or take them out.';
      return;
    }
    const attachmentIds = this.tray.attachmentIds();
    if (!body && attachmentIds.length === 0) return;
    // Counted as the server counts it: in characters (code points), not UTF-16 units.
    const length = [...body].length;
    if (length > MAX_BODY) {
      this.composerError.textContent = `This message is ${length.toLocaleString()} characters long; the most is ${MAX_BODY.toLocaleString()}.`;
      return;
    }
    // Sending needs no history: a message written while the page loads goes at once.
    this.options.thread.send(body, {
      ...(this.replyingTo ? { replyToId: this.replyingTo.id } : {}),
      ...(attachmentIds.length > 0 ? { attachmentIds } : {}),
    });
    this.setReplyingTo(undefined);
    this.tray.clear();
    this.composer.value = '';
    this.saveDraft();
    this.fitComposer();
  }

  /** Members one can @-mention here: everyone but the caller, once their names are known. */
  private mentionable(): User[] {
    const { me, users } = this.options;
    const ids = this.conversation()?.memberIds.filter((id) => id !== me.id) ?? [];
    return ids.map((id) => users.user(id)).filter((user): user is User => !!user);
  }

  private setReplyingTo(message: Message | undefined): void {
    this.replyingTo = message;
    this.replyBar.hidden = !message;
    if (!message) {
      this.replyBar.replaceChildren();
      return;
    }
    setChildren(
      this.replyBar,
      el(
        'p',
        { class: 'reply-bar-text' },
        'Replying to ',
        el('strong', { attrs: { dir: 'auto' } }, this.options.users.name(message.senderId)),
        ': ',
        el('span', { attrs: { dir: 'auto' } }, snippet(message.body ?? '', 100)),
      ),
      el('button', { class: 'reply-cancel', attrs: { type: 'button', 'aria-label': 'Cancel reply' }, on: { click: () => this.setReplyingTo(undefined) } }, '✕'),
    );
    this.composer.focus();
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
      this.presenceLine.show([]);
      this.addPeople.hidden = true;
      this.infoButton.hidden = true;
      return;
    }
    this.title.textContent = conversationTitle(conversation, me, users);
    const others = conversation.memberIds.filter((id) => id !== me.id);
    this.presenceLine.show(others);
    if (conversation.type === 'group') {
      this.subtitle.textContent = ['You', ...others.map((id) => users.name(id))].join(', ');
    } else {
      const username = others[0] ? users.username(others[0]) : undefined;
      this.subtitle.textContent = username ? `@${username}` : '';
    }
    this.addPeople.hidden = !(conversation.type === 'group' && conversation.ownerId === me.id);
    this.infoButton.hidden = false;
    this.infoButton.textContent = conversation.type === 'group' ? 'Group info' : 'Info';
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
      const day = new Date(message.createdAt).toDateString();
      if (!previous || new Date(previous.createdAt).toDateString() !== day) {
        const key = `d:${day}`;
        seen.add(key);
        elements.push(this.daySeparator(key, message.createdAt));
      }
      const key = `m:${message.id}`;
      seen.add(key);
      elements.push(message.kind === 'system' ? this.systemItem(key, message) : this.messageItem(key, message, previous));
      previous = message;
    }
    for (const pending of thread.pending) {
      const key = `p:${pending.clientMessageId}`;
      seen.add(key);
      elements.push(this.pendingItem(key, pending));
    }
    for (const key of [...this.items.keys()]) if (!seen.has(key)) this.items.delete(key);
    reconcile(this.list, elements);
    this.placeSeenBy(messages);

    // 'update' too: a message growing at the bottom (a failed send's Retry, a reaction) stays in view.
    if (change === 'reset' || change === 'own' || ((change === 'newer' || change === 'update') && nearBottom)) {
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

  /** How a message is drawn here; the thread panel draws its messages the same way. */
  private messageContext(message: Message, previous: Message | undefined, inPanel = false): MessageContext {
    const { me, users, thread } = this.options;
    const startsRun =
      !previous ||
      previous.kind === 'system' ||
      previous.senderId !== message.senderId ||
      Date.parse(message.createdAt) - Date.parse(previous.createdAt) > RUN_GAP_MS ||
      new Date(previous.createdAt).toDateString() !== new Date(message.createdAt).toDateString();
    return {
      me,
      users,
      group: this.conversation()?.type === 'group',
      startsRun,
      showTime: startsRun,
      quoted: (id) => thread.quoted(id),
      openThread: inPanel ? undefined : (root) => this.openThread(root),
      toggleReaction: (target, emoji, reacted) => void this.runAction(target.id, () => thread.toggleReaction(target.id, emoji, reacted), () => undefined),
      whoReacted: async (target, emoji) => (await this.options.api.reactors(target.id, emoji, { limit: 50 })).items.map((user) => user.displayName || user.username),
      attachments: (target) => this.attachments.render(target.attachments),
    };
  }

  private daySeparator(key: string, iso: string): HTMLLIElement {
    const label = dayLabel(iso);
    const { item, stale } = this.item(key, label);
    if (stale) {
      item.className = 'day-separator';
      delete item.dataset.testid;
      setChildren(item, el('span', {}, label));
    }
    return item;
  }

  /** "Alice added Bob": a centred note, without a menu. */
  private systemItem(key: string, message: Message): HTMLLIElement {
    const { me, users } = this.options;
    const text = systemText(message, users, me.id);
    const { item, stale } = this.item(key, JSON.stringify([message.changeSeq, text]));
    if (!stale) return item;
    item.className = 'message system';
    item.dataset.seq = String(message.seq);
    item.dataset.id = message.id;
    setChildren(item, el('p', { class: 'system-note', testid: 'system-note', attrs: { dir: 'auto' } }, text));
    return item;
  }

  private messageItem(key: string, message: Message, previous: Message | undefined): HTMLLIElement {
    const { me, users } = this.options;
    const mine = message.senderId === me.id;
    const context = this.messageContext(message, previous);
    const editing = this.editingId === message.id && !message.deletedAt;
    const confirming = this.confirmingDeleteId === message.id && !message.deletedAt;
    const error = this.actionError?.id === message.id ? this.actionError.text : '';
    const quoted = message.replyToId ? this.options.thread.quoted(message.replyToId) : undefined;
    const names = [message.senderId, quoted?.senderId, ...message.mentionedUserIds].map((id) => id && [users.name(id), users.username(id)]);
    const signature = JSON.stringify([message.changeSeq, context.startsRun, context.group, names, quoted?.changeSeq, editing, confirming, error]);
    const { item, stale } = this.item(key, signature);
    if (!stale) return item;

    item.className = `message${mine ? ' mine' : ''}${message.deletedAt ? ' deleted' : ''}${editing ? ' editing' : ''}${context.startsRun ? ' run-start' : ''}`;
    item.dataset.seq = String(message.seq);
    item.dataset.id = message.id;
    delete item.dataset.state;
    const bubble = messageBubble(message, context, editing ? this.editForm(message) : undefined);
    const menuButton =
      message.deletedAt || editing || confirming
        ? null
        : el(
            'button',
            {
              class: 'message-menu-button',
              testid: 'message-menu-button',
              attrs: { type: 'button', 'aria-label': 'Message actions', 'aria-haspopup': 'menu', 'aria-expanded': 'false' },
            },
            '⋯',
          );
    if (menuButton) {
      const open = (): void => this.openMenu(menuButton, item, message);
      menuButton.addEventListener('click', open);
      // Touch screens have no hover: a tap on the bubble or a long press opens the menu.
      bubble.addEventListener('click', (event) => {
        if (matchMedia('(hover: none)').matches && !(event.target as Element).closest('a, button')) open();
      });
      item.addEventListener('contextmenu', (event) => {
        if (!matchMedia('(hover: none)').matches) return;
        event.preventDefault();
        open();
      });
    }
    const confirm = confirming
      ? el(
          'div',
          { class: 'message-actions confirming', attrs: { role: 'group', 'aria-label': 'Delete this message?' } },
          el('span', {}, 'Delete?'),
          el('button', { class: 'danger', testid: 'confirm-delete', attrs: { type: 'button' }, on: { click: () => void this.remove(message.id) } }, 'Delete'),
          el('button', { class: 'keep', attrs: { type: 'button' }, on: { click: () => this.setConfirming(undefined, message.id) } }, 'Keep'),
        )
      : null;
    setChildren(
      item,
      el('div', { class: 'message-row' }, senderAvatar(message, context), bubble, menuButton),
      reactionChips(message, context),
      threadButton(message, context),
      confirm,
      error ? el('p', { class: 'form-error', attrs: { role: 'alert' } }, error) : null,
    );
    if (confirming) queueMicrotask(() => item.querySelector<HTMLButtonElement>('.keep')?.focus());
    return item;
  }

  private openMenu(trigger: HTMLButtonElement, item: HTMLLIElement, message: Message): void {
    const { me, thread } = this.options;
    const items: MenuItem[] = [
      { label: 'Reply', testid: 'reply', run: () => this.setReplyingTo(message) },
      {
        label: message.pinned ? 'Unpin' : 'Pin',
        testid: message.pinned ? 'unpin' : 'pin',
        run: () => void this.runAction(message.id, () => thread.setPinned(message.id, !message.pinned), () => undefined),
      },
      { label: 'Copy text', testid: 'copy', run: () => void this.copy(message.body ?? '') },
    ];
    if (message.senderId === me.id) {
      items.push(
        { label: 'Edit', testid: 'edit', run: () => this.setEditing(message.id) },
        { label: 'Delete', testid: 'delete', danger: true, run: () => this.setConfirming(message.id) },
      );
    }
    showMessageMenu(trigger, item, {
      reacted: new Set(message.reactions.filter((reaction) => reaction.reacted).map((reaction) => reaction.emoji)),
      react: (emoji, reacted) => void this.runAction(message.id, () => thread.toggleReaction(message.id, emoji, reacted), () => undefined),
      items,
    });
  }

  private async copy(text: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
      this.announcer.textContent = 'Copied.';
    } catch {
      this.announcer.textContent = 'Could not copy: the browser refused.';
    }
  }

  /** "Seen" (direct) or "Seen by …" (group) under the caller's newest message, from the read markers. */
  private placeSeenBy(messages: Message[]): void {
    const { me, users, thread } = this.options;
    const conversation = this.conversation();
    // System notes are not read receipts' business: the caller's last message is a text one.
    const last = messages.findLast((message) => message.kind !== 'system');
    const readers =
      conversation && last?.senderId === me.id
        ? conversation.memberIds.filter((id) => id !== me.id && (thread.receipts.get(id) ?? 0) >= last.seq)
        : [];
    const text = readers.length === 0 ? '' : conversation?.type === 'direct' ? 'Seen' : `Seen by ${readers.map((id) => users.name(id)).join(', ')}`;
    if (this.seenBy.textContent !== text) this.seenBy.textContent = text;
    const item = text && last ? this.items.get(`m:${last.id}`) : undefined;
    if (item) {
      if (this.seenBy.parentElement !== item) item.append(this.seenBy);
    } else {
      this.seenBy.remove();
    }
  }

  private pendingItem(key: string, pending: PendingMessage): HTMLLIElement {
    const signature = JSON.stringify([pending.status, pending.error?.message]);
    const { item, stale } = this.item(key, signature);
    if (!stale) return item;
    // Waiting (no answer, or the server busy: it goes again by itself) and failed (refused: it
    // waits for Retry or Discard) both show as not sent, with both buttons.
    const notSent = pending.status === 'waiting' || pending.status === 'failed';
    item.className = `message mine pending${notSent ? ' failed' : ''}`;
    item.dataset.state = notSent ? 'failed' : 'pending';
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
          pending.status === 'sending'
            ? 'Sending…'
            : pending.status === 'waiting'
              ? pending.error?.isNetworkError
                ? 'Not sent yet: it goes when the connection is back.'
                : `Not sent yet (${errorText(pending.error)}): it goes again shortly.`
              : `Not sent: ${errorText(pending.error, 'error')}`,
        ),
        el('p', { class: 'message-body' }, pending.body),
        pending.attachmentIds?.length ? el('p', { class: 'message-files muted' }, fileCount(pending.attachmentIds.length)) : null,
      ),
      notSent
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
      if (!body) {
        this.actionError = { id: message.id, text: 'A message cannot be empty. To remove it, use Delete instead.' };
        this.render('update');
        return;
      }
      if (body === message.body) return this.setEditing(undefined, message.id);
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
    if (returnFocusTo) this.focusAction(returnFocusTo);
  }

  private setConfirming(id: string | undefined, returnFocusTo?: string): void {
    this.confirmingDeleteId = id;
    this.editingId = undefined;
    this.actionError = undefined;
    this.render('update');
    if (returnFocusTo) this.focusAction(returnFocusTo);
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
      if (this.editingId === undefined && !this.element.contains(document.activeElement)) this.focusAction(id);
    } catch (error) {
      this.actionError = { id, text: error instanceof Error ? error.message : 'That did not work.' };
      this.render('update');
    }
  }

  /** Focus goes back to the message's menu button (its Edit and Delete are in the menu). */
  private focusAction(messageId: string): void {
    this.items.get(`m:${messageId}`)?.querySelector<HTMLElement>('[data-testid="message-menu-button"]')?.focus();
  }

  private openThread(root: Message): void {
    const opener = this.items.get(`m:${root.id}`)?.querySelector<HTMLElement>('[data-testid="thread-link"]') ?? null;
    this.panel.open(
      threadPanel({
        client: this.options.client,
        root,
        context: (message, previous) => this.messageContext(message, previous, true),
      }),
      opener,
    );
  }

  private openPins(): void {
    this.panel.open(
      pinsPanel({
        client: this.options.client,
        conversationId: this.options.thread.id,
        users: this.options.users,
        jump: (message) => {
          // On a phone the panel covers the conversation: close it to show the message.
          if (matchMedia('(max-width: 700px)').matches) this.panel.close(false);
          void this.jumpTo(message.seq);
        },
      }),
      this.pinsButton,
    );
  }

  private openGroupInfo(): void {
    const { api, me, conversations, users, thread } = this.options;
    this.panel.open(groupInfoPanel({ api, me, conversationId: thread.id, conversations, users }), this.infoButton);
  }

  private openAddPeople(): void {
    const conversation = this.conversation();
    if (!conversation) return;
    openGroupDialog({
      api: this.options.api,
      conversation,
      presence: this.options.presence,
      onSeen: (user) => this.options.users.remember(user),
      onDone: (updated) => this.options.conversations.put(updated),
    });
  }
}

/** "Today", "Yesterday", or the date, for the separators between days. */
function dayLabel(iso: string, now = new Date()): string {
  const date = new Date(iso);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (date.toDateString() === now.toDateString()) return 'Today';
  if (date.toDateString() === yesterday.toDateString()) return 'Yesterday';
  const thisYear = date.getFullYear() === now.getFullYear();
  return date.toLocaleDateString(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: thisYear ? undefined : 'numeric' });
}

function fileCount(count: number): string {
  return count === 1 ? '1 file' : `${count} files`;
}
