import { createRawApi, ParleyApi, ParleyClient, type SessionAnswer } from '@parley/client';
import { ConversationStore } from './conversations.js';
import { el, setChildren } from './dom.js';
import { PresenceStore } from './presence.js';
import { followNotificationClicks, PushNotifications } from './push-notifications.js';
import { clearSession, keepUnsent, loadSession, onSessionChange, saveSession, takeUnsent, type Session } from './session.js';
import { Thread } from './thread.js';
import { TabTokens } from './tokens.js';
import { Typing } from './typing.js';
import { UserDirectory } from './users.js';
import { ConnectionIndicator } from './views/connection.js';
import { loginView } from './views/login.js';
import { NotificationsHint } from './views/notifications-hint.js';
import { keepPresenceShown } from './views/presence-dot.js';
import { openSettings } from './views/settings-dialog.js';
import { Sidebar } from './views/sidebar.js';
import { ThreadView } from './views/thread-view.js';

/**
 * Logged out: the login form; logged in: the chat. The session is kept across reloads, and
 * shared by the site's tabs: logging out (or in as someone else) in one does so in all.
 */
export function startApp(root: HTMLElement): void {
  let chat: Chat | undefined;
  let current: Session | undefined;

  function showLogin(notice?: string): void {
    chat?.destroy();
    chat = undefined;
    current = undefined;
    document.title = 'Parley';
    setChildren(root, loginView(signedIn, notice));
  }

  function signedIn(answer: SessionAnswer): void {
    const session: Session = {
      token: answer.accessToken,
      refreshToken: answer.refreshToken,
      expiresAt: answer.expiresAt,
      receivedAt: Date.now(),
      user: answer.user,
    };
    saveSession(session);
    showChat(session);
  }

  function showChat(session: Session): void {
    chat?.destroy();
    current = session;
    chat = new Chat(root, session, (notice) => {
      clearSession();
      showLogin(notice);
    });
  }

  onSessionChange(() => {
    const session = loadSession();
    if (session?.token === current?.token) return;
    // Another tab refreshed the tokens (or logged in again as the same user): carry on with them.
    if (session && chat && session.user.id === current?.user.id) {
      current = session;
      chat.adopt(session);
      return;
    }
    // The open conversation was the other user's.
    if (session?.user.id !== current?.user.id) history.replaceState(null, '', location.pathname + location.search);
    if (session) showChat(session);
    else showLogin('You logged out in another tab.');
  });

  // A clicked notification routes this tab to its conversation (shown once logged in).
  followNotificationClicks((conversationId) => (location.hash = `#/c/${conversationId}`));

  const session = loadSession();
  if (session) showChat(session);
  else showLogin();
}

/** The open conversation lives in the address (#/c/<id>), so a reload or Back returns to it. */
function conversationFromHash(): string | undefined {
  return /^#\/c\/([^/]+)$/.exec(location.hash)?.[1];
}

/**
 * The logged-in page: header (connection state, user, log out), the conversation list, and the
 * open conversation. @parley/client keeps the live session: each catch-up (after every
 * (re)connect) hands the list over, and each message or change it emits updates the list and,
 * for the open conversation, the thread.
 */
class Chat {
  private readonly client: ParleyClient;
  private readonly api: ParleyApi;
  private readonly tokens: TabTokens;
  private readonly conversations: ConversationStore;
  private readonly users: UserDirectory;
  private readonly typing: Typing;
  private readonly presence: PresenceStore;
  private readonly stopPresence: () => void;
  private readonly push: PushNotifications;
  /** What the user had typed in each conversation and not sent, kept while it looks at another. */
  private readonly drafts: Map<string, string>;
  private readonly indicator: ConnectionIndicator;
  private readonly layout: HTMLElement;
  private readonly pane: HTMLElement;
  private thread: Thread | undefined;
  private threadView: ThreadView | undefined;
  private readonly accountName: HTMLElement;
  /** A message to show once its conversation opens (navigating waits for hashchange). */
  private pendingJump: { id: string; seq: number } | undefined;
  private ended = false;

  constructor(
    root: HTMLElement,
    private readonly session: Session,
    private readonly end: (notice?: string) => void,
  ) {
    const me = session.user;
    this.drafts = takeUnsent(me.id);
    // The tokens are shared by the site's tabs; the client refreshes them through its own API.
    this.tokens = new TabTokens(session, new ParleyApi(createRawApi({ baseUrl: location.origin })));
    this.client = new ParleyClient({ baseUrl: location.origin, tokens: this.tokens });
    this.api = this.client.api;
    this.push = new PushNotifications(this.api, me.id, () => ({ accessToken: this.tokens.accessToken, expiresAt: this.tokens.expiresAt }));
    // The service worker reads with the page's token and never refreshes: it gets each new one.
    this.tokens.onToken(() => void this.push.handToken());
    void this.push.endOtherAccounts().then(() => this.push.handToken());
    this.conversations = new ConversationStore(this.api);
    this.users = new UserDirectory(this.api, me);
    this.typing = new Typing(this.client, me.id);
    this.presence = new PresenceStore(this.api, me.id);
    this.stopPresence = keepPresenceShown(this.presence);
    this.client.on('presence', (event) => this.presence.apply(event));
    this.indicator = new ConnectionIndicator(() => this.client.retryNow());
    this.client.on('connection', (status) => this.indicator.update(status));
    this.client.on('synced', ({ conversations }) => {
      this.conversations.replaceAll(conversations);
      this.thread?.resume();
      this.presence.refreshAll();
    });
    this.client.on('message', (message) => this.conversations.refresh(message.conversationId));
    this.client.on('messageUpdated', (message) => this.conversations.refresh(message.conversationId));
    this.client.on('conversation', ({ conversationId }) => {
      this.conversations.refresh(conversationId);
      this.presence.retryUnshared();
      if (this.thread?.id === conversationId) this.thread.refreshConversation();
    });
    this.client.on('read', ({ conversationId, seq, own }) => {
      if (own) this.conversations.markedRead(conversationId, seq);
    });
    // The refresh token was refused, or the socket's session ended elsewhere.
    this.tokens.on('ended', () => this.sessionExpired());
    this.client.on('ended', () => this.sessionExpired());

    const sidebar = new Sidebar({
      api: this.api,
      me,
      conversations: this.conversations,
      users: this.users,
      presence: this.presence,
      openId: () => this.thread?.id,
      open: (id) => this.navigate(id),
      openAt: (id, seq) => this.openAt(id, seq),
    });
    // Offered once the user has written to someone, never on page load.
    const hint = new NotificationsHint(this.push);
    sidebar.addNotice(hint.element);
    this.client.on('sent', () => void hint.offer());
    this.pane = el('div', { class: 'pane' });
    this.layout = el('div', { class: 'layout' }, sidebar.element, this.pane);
    this.accountName = el('span', { class: 'account-name', testid: 'me', attrs: { title: `@${me.username}`, dir: 'auto' } }, me.displayName || me.username);
    const settingsButton: HTMLButtonElement = el(
      'button',
      {
        testid: 'settings-button',
        attrs: { type: 'button' },
        on: {
          click: () =>
            openSettings({
              api: this.api,
              push: this.push,
              opener: settingsButton,
              onSaved: (user) => {
                this.users.remember(user);
                this.accountName.textContent = user.displayName || user.username;
                this.users.changed.emit();
              },
            }),
        },
      },
      'Settings',
    );
    const header = el(
      'header',
      { class: 'topbar' },
      el('h1', { class: 'brand' }, 'Parley'),
      this.indicator.element,
      el(
        'div',
        { class: 'account' },
        this.accountName,
        settingsButton,
        el('button', { testid: 'logout', attrs: { type: 'button' }, on: { click: () => this.logOut() } }, 'Log out'),
      ),
    );
    setChildren(root, el('div', { class: 'app' }, header, el('main', { class: 'main' }, this.layout)));

    this.conversations.changed.subscribe(() => this.updateTitle());
    this.conversations.removed.subscribe((id) => {
      if (this.thread?.id === id) this.navigate(undefined);
    });
    window.addEventListener('hashchange', this.onHashChange);
    document.addEventListener('visibilitychange', this.onVisibility);

    this.showConversation(conversationFromHash());
    void this.conversations.refreshAll().catch(() => undefined);
    // Resolves once connected and caught up; an ended session is handled above.
    this.client.connect().catch(() => undefined);
    // The stored session may have been ended while the page was closed: a 401 that a refresh
    // cannot cure ends it (TabTokens). Offline, the page carries on and retries the socket.
    this.api.me().then(
      (user) => this.users.remember(user),
      () => undefined,
    );
  }

  /** Tokens another tab stored for this user. */
  adopt(session: Session): void {
    this.tokens.adoptSession(session);
  }

  destroy(): void {
    this.ended = true;
    this.tokens.stop();
    this.client.close();
    this.indicator.destroy();
    this.typing.destroy();
    this.stopPresence();
    this.thread?.close();
    this.threadView?.destroy();
    window.removeEventListener('hashchange', this.onHashChange);
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  private navigate(id: string | undefined): void {
    if (id && location.hash !== `#/c/${id}`) {
      location.hash = `#/c/${id}`; // hashchange shows it
      return;
    }
    // pushState fires no hashchange: show the list here.
    if (!id && location.hash) history.pushState(null, '', location.pathname + location.search);
    this.showConversation(id);
  }

  private openAt(id: string, seq: number): void {
    if (this.thread?.id === id) {
      void this.threadView?.jumpTo(seq);
      return;
    }
    this.pendingJump = { id, seq };
    this.navigate(id);
  }

  private readonly onHashChange = (): void => this.showConversation(conversationFromHash());

  private readonly onVisibility = (): void => {
    if (document.visibilityState === 'visible') this.thread?.markRead();
  };

  private showConversation(id: string | undefined): void {
    if (this.thread?.id === id && id !== undefined) {
      this.threadView?.focusComposer();
      return;
    }
    this.thread?.close();
    this.threadView?.destroy();
    this.thread = undefined;
    this.threadView = undefined;
    this.layout.classList.toggle('has-open', id !== undefined);
    if (!id) {
      setChildren(
        this.pane,
        el(
          'div',
          { class: 'placeholder' },
          el('h2', {}, 'No conversation open'),
          el('p', { class: 'muted' }, 'Pick one from the list, find someone to write to, or start a group.'),
        ),
      );
      this.conversations.changed.emit();
      return;
    }
    const thread = new Thread(id, this.client, this.session.user.id, (conversationId, seq) => this.conversations.markedRead(conversationId, seq));
    this.thread = thread;
    this.threadView = new ThreadView({
      api: this.api,
      client: this.client,
      me: this.session.user,
      thread,
      conversations: this.conversations,
      users: this.users,
      typing: this.typing,
      presence: this.presence,
      upload: (file, options) => this.client.upload(file, options),
      drafts: this.drafts,
      back: () => this.navigate(undefined),
    });
    setChildren(this.pane, this.threadView.element);
    thread.open();
    const jump = this.pendingJump?.id === id ? this.pendingJump : undefined;
    this.pendingJump = undefined;
    if (jump) void this.threadView.jumpTo(jump.seq);
    // The list shows the open conversation as current, without an unread count.
    this.conversations.changed.emit();
    // On a phone the keyboard would cover the conversation: focus the composer only with a mouse.
    if (matchMedia('(pointer: fine)').matches) this.threadView.focusComposer();
  }

  private updateTitle(): void {
    const unread = this.conversations.totalUnread(this.thread?.id);
    document.title = unread > 0 ? `(${unread}) Parley` : 'Parley';
  }

  private logOut(): void {
    if (this.ended) return;
    // Unsubscribes from pushes while the token still works, then ends the session on the server
    // (its tokens and sockets, in every tab); the page does not wait.
    void this.push
      .logOut()
      .then(() => this.api.logout())
      .catch(() => undefined);
    history.replaceState(null, '', location.pathname + location.search);
    this.end();
  }

  private sessionExpired(): void {
    if (this.ended) return;
    keepUnsent(this.session.user.id, this.unsentText());
    this.end('Your session has ended. Please log in again.');
  }

  /** By conversation: the messages the server never stored, then the draft. */
  private unsentText(): Map<string, string> {
    const texts = new Map<string, string[]>();
    for (const message of this.client.outbox.pending()) texts.set(message.conversationId, [...(texts.get(message.conversationId) ?? []), message.body]);
    for (const [id, draft] of this.drafts) texts.set(id, [...(texts.get(id) ?? []), draft]);
    return new Map([...texts].map(([id, parts]) => [id, parts.join('\n\n')]));
  }
}
