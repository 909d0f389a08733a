import { Api, type AuthAnswer } from './api.js';
import { ConversationStore } from './conversations.js';
import { el, setChildren } from './dom.js';
import { LiveConnection } from './live.js';
import { Outbox } from './outbox.js';
import { clearSession, keepUnsent, loadSession, onSessionChange, saveSession, takeUnsent, type Session } from './session.js';
import { Thread } from './thread.js';
import { UserDirectory } from './users.js';
import { ConnectionIndicator } from './views/connection.js';
import { loginView } from './views/login.js';
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

  function signedIn(answer: AuthAnswer): void {
    const session = { token: answer.accessToken, user: answer.user };
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
    // The open conversation was the other user's.
    if (session?.user.id !== current?.user.id) history.replaceState(null, '', location.pathname + location.search);
    if (session) showChat(session);
    else showLogin('You logged out in another tab.');
  });

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
 * open conversation. It wires the socket to the models: `ready` re-reads the list and catches
 * the open conversation up; each frame makes the model GET what it names.
 */
class Chat {
  private readonly api: Api;
  private readonly conversations: ConversationStore;
  private readonly users: UserDirectory;
  private readonly outbox: Outbox;
  /** What the user had typed in each conversation and not sent, kept while it looks at another. */
  private readonly drafts: Map<string, string>;
  private readonly live: LiveConnection;
  private readonly indicator: ConnectionIndicator;
  private readonly layout: HTMLElement;
  private readonly pane: HTMLElement;
  private thread: Thread | undefined;
  private threadView: ThreadView | undefined;
  private ended = false;

  constructor(
    root: HTMLElement,
    private readonly session: Session,
    private readonly end: (notice?: string) => void,
  ) {
    const me = session.user;
    this.drafts = takeUnsent(me.id);
    this.api = new Api(session.token, () => this.sessionExpired());
    this.conversations = new ConversationStore(this.api);
    this.users = new UserDirectory(this.api, me);
    this.outbox = new Outbox(this.api);
    this.live = new LiveConnection(this.api, {
      status: (status) => this.indicator.update(status),
      ready: () => {
        void this.conversations.refreshAll().catch(() => undefined);
        this.thread?.catchUp();
        this.outbox.resendOffline();
      },
      frame: (frame) => {
        switch (frame.type) {
          case 'message.created':
          case 'message.updated':
          case 'message.deleted':
            this.conversations.refresh(frame.conversationId);
            if (this.thread?.id === frame.conversationId) this.thread.onFrame(frame);
            return;
          case 'conversation.updated':
            this.conversations.refresh(frame.conversationId);
            if (this.thread?.id === frame.conversationId) this.thread.refreshConversation();
            return;
          case 'conversation.read':
            this.conversations.markedRead(frame.conversationId, frame.lastReadSeq);
            return;
        }
      },
      unauthorized: () => this.sessionExpired(),
    });
    this.indicator = new ConnectionIndicator(() => this.live.retryNow());

    const sidebar = new Sidebar({
      api: this.api,
      me,
      conversations: this.conversations,
      users: this.users,
      openId: () => this.thread?.id,
      open: (id) => this.navigate(id),
    });
    this.pane = el('div', { class: 'pane' });
    this.layout = el('div', { class: 'layout' }, sidebar.element, this.pane);
    const header = el(
      'header',
      { class: 'topbar' },
      el('span', { class: 'brand' }, 'Parley'),
      this.indicator.element,
      el(
        'div',
        { class: 'account' },
        el('span', { class: 'account-name', testid: 'me', attrs: { title: `@${me.username}` } }, me.displayName || me.username),
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
    this.live.start();
    // The stored session may have expired or been revoked while the page was closed: a 401
    // here ends it (Api's onUnauthorized). Offline, the page carries on and retries the socket.
    this.api.me().then(
      (user) => this.users.remember(user),
      () => undefined,
    );
  }

  destroy(): void {
    this.ended = true;
    this.outbox.stop();
    this.live.stop();
    this.indicator.destroy();
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
    const thread = new Thread(id, this.api, this.session.user.id, this.outbox, (conversationId, seq) =>
      this.conversations.markedRead(conversationId, seq),
    );
    this.thread = thread;
    this.threadView = new ThreadView({
      api: this.api,
      me: this.session.user,
      thread,
      conversations: this.conversations,
      users: this.users,
      drafts: this.drafts,
      back: () => this.navigate(undefined),
    });
    setChildren(this.pane, this.threadView.element);
    thread.open();
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
    for (const message of this.outbox.all()) texts.set(message.conversationId, [...(texts.get(message.conversationId) ?? []), message.body]);
    for (const [id, draft] of this.drafts) texts.set(id, [...(texts.get(id) ?? []), draft]);
    return new Map([...texts].map(([id, parts]) => [id, parts.join('\n\n')]));
  }
}
