import { Emitter } from './emitter.js';
import { ParleyError } from './errors.js';
import { createRawApi, ParleyApi, type Attachment, type Message, type RawApi, type SessionAnswer } from './http.js';
import { LiveConnection, type ConnectionStatus } from './live.js';
import { Outbox, type PendingMessage, type SendOptions } from './outbox.js';
import { browserSocket, type SocketOpener } from './socket.js';
import { canReportProgress, uploadWithProgress } from './upload.js';
import { MemoryStore, type SyncStore } from './store.js';
import { Sync, type SyncEvents } from './sync.js';
import { SessionTokens, StaticToken, type StoredTokens, type TokenSource } from './tokens.js';

export interface ParleyClientOptions {
  /** Where the server is (`https://chat.example.com`); in a browser, the page's origin by default. */
  baseUrl?: string;
  /**
   * How the client authenticates: a session's tokens (from register, login or refresh; they
   * are refreshed as needed, and each new pair is announced by the `tokens` event), a bot's
   * token or any access token alone (`token`), or a TokenSource of the application's own.
   */
  session?: StoredTokens & { user?: { id: string } };
  token?: string;
  tokens?: TokenSource;
  /** Where the per-conversation cursors are kept (default: in memory). */
  store?: SyncStore;
  /** What opens WebSockets (default: the platform's WebSocket, with a ticket). */
  socket?: SocketOpener;
  /** Sends each request (default: the platform's fetch); a wrapper can log, trace or fail them. */
  fetch?: (request: Request) => Promise<Response>;
  /** On the first sync of a user with nothing stored: skip existing history (default) or emit all of it. */
  backlog?: 'skip' | 'all';
  /** Reconnection: the first wait, doubling with each failure up to the most (ms). */
  reconnect?: { firstDelayMs?: number; maxDelayMs?: number };
  /** How often to ping the server to notice a dead connection (ms). */
  pingIntervalMs?: number;
  /** Page size of the catch-up reads (the server allows at most 100 conversations and 500 changes). */
  pageSize?: number;
}

export interface ClientEvents extends SyncEvents, Record<string, unknown> {
  /** The connection changed state. */
  connection: ConnectionStatus;
  /** A pending message changed status. */
  outbox: PendingMessage;
  /** The server stored a pending message. */
  sent: { pending: PendingMessage; message: Message };
  /** A session's new token pair: keep it to resume the session later. */
  tokens: StoredTokens & { expiresAt: string };
  /** The session is over (refresh refused, logged out elsewhere): log in again. */
  ended: ParleyError;
}

/**
 * A client of one Parley server for one user: typed REST calls (`api`), a live session that
 * turns notifications and reconnects into events emitted exactly once and in order
 * (`connect`, `on`), and an outbox that sends each message once however often it has to
 * retry (`send`).
 */
export class ParleyClient extends Emitter<ClientEvents> {
  readonly baseUrl: string;
  readonly api: ParleyApi;
  /** The typed openapi-fetch client, for any call of the contract. */
  readonly raw: RawApi;
  readonly tokens: TokenSource;
  readonly outbox: Outbox;
  private readonly options: ParleyClientOptions;
  private readonly sync: Sync;
  private live: LiveConnection | undefined;
  private status: ConnectionStatus = { state: 'closed' };
  private user: string | undefined;
  private closed = false;
  private endedOnce = false;
  private endedError: ParleyError | undefined;
  /** The current socket has been caught up at least once. */
  private syncedOnce = false;

  constructor(options: ParleyClientOptions) {
    super();
    this.options = options;
    this.baseUrl = (options.baseUrl ?? pageOrigin()).replace(/\/$/, '');
    this.raw = createRawApi({ baseUrl: this.baseUrl, tokens: () => this.tokens, ...(options.fetch ? { fetch: options.fetch } : {}) });
    this.api = new ParleyApi(this.raw);
    this.tokens = options.tokens ?? this.tokenSource(options);
    if (this.tokens instanceof SessionTokens) {
      this.tokens.on('tokens', (pair) => this.emit('tokens', pair));
      this.tokens.on('ended', (error) => this.sessionEnded(error));
    }
    this.user = options.session?.user?.id;
    this.outbox = new Outbox(this.api);
    this.outbox.on('change', (pending) => this.emit('outbox', pending));
    this.outbox.on('sent', (sent) => this.emit('sent', sent));
    this.sync = new Sync(this.api, options.store ?? new MemoryStore(), (event, value) => this.onSyncEvent(event, value), {
      backlog: options.backlog ?? 'skip',
      pageSize: options.pageSize ?? 100,
    });
  }

  /** Logs in and answers a client holding the new session (listen to `tokens` to keep it). */
  static async login(options: Omit<ParleyClientOptions, 'session' | 'token' | 'tokens'> & { username: string; password: string }): Promise<ParleyClient> {
    const { username, password, ...rest } = options;
    return new this({ ...rest, session: await anonymousApi(rest).login(username, password) });
  }

  /** Registers a user and answers a client holding its session. */
  static async register(
    options: Omit<ParleyClientOptions, 'session' | 'token' | 'tokens'> & { username: string; password: string; displayName?: string },
  ): Promise<ParleyClient> {
    const { username, password, displayName, ...rest } = options;
    const answer: SessionAnswer = await anonymousApi(rest).register({ username, password, ...(displayName ? { displayName } : {}) });
    return new this({ ...rest, session: answer });
  }

  /** The user of the connected socket (after the first `ready`). */
  get userId(): string | undefined {
    return this.user;
  }

  /**
   * The session's current tokens, to keep for resuming it later (`new ParleyClient({ session })`);
   * undefined for a client built on a token alone. Changes with every refresh (`tokens` event).
   */
  get session(): (StoredTokens & { expiresAt?: string; user?: { id: string } }) | undefined {
    if (!(this.tokens instanceof SessionTokens)) return undefined;
    const { accessToken, refreshToken, expiresAt } = this.tokens;
    return {
      accessToken,
      refreshToken,
      ...(expiresAt !== undefined ? { expiresAt: new Date(expiresAt).toISOString() } : {}),
      ...(this.user ? { user: { id: this.user } } : {}),
    };
  }

  get connection(): ConnectionStatus {
    return this.endedOnce ? { ...this.status, state: 'ended' } : this.status;
  }

  /**
   * Opens the live session and keeps it open: resolves once it is connected and caught up the
   * first time (the client keeps reconnecting meanwhile), rejects if the session has ended.
   */
  connect(): Promise<void> {
    if (this.endedOnce) return Promise.reject(this.endedError);
    if (this.closed) return Promise.reject(new Error('The client is closed'));
    if (this.live && this.syncedOnce) return Promise.resolve();
    let socket: SocketOpener;
    try {
      socket = this.options.socket ?? browserSocket();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const synced = new Promise<void>((resolve, reject) => {
      const offSynced = this.once('synced', () => {
        offEnded();
        resolve();
      });
      const offEnded = this.once('ended', (error) => {
        offSynced();
        reject(error);
      });
    });
    if (!this.live) {
      this.live = new LiveConnection({
        url: `${this.baseUrl.replace(/^http/, 'ws')}/ws`,
        opener: socket,
        tokens: this.tokens,
        ticket: async () => (await this.api.wsTicket()).ticket,
        ...(this.options.reconnect?.firstDelayMs !== undefined ? { firstRetryMs: this.options.reconnect.firstDelayMs } : {}),
        ...(this.options.reconnect?.maxDelayMs !== undefined ? { maxRetryMs: this.options.reconnect.maxDelayMs } : {}),
        ...(this.options.pingIntervalMs !== undefined ? { pingIntervalMs: this.options.pingIntervalMs } : {}),
      });
      this.live.on('status', (status) => {
        this.status = status;
        this.emit('connection', status);
        if (status.state === 'ended') this.sessionEnded(status.error);
      });
      this.live.on('ready', ({ userId }) => {
        this.user = userId;
        // The connection is back: whatever waits in the outbox goes now.
        this.outbox.flush();
        void this.sync.ready(userId);
      });
      this.live.on('frame', (frame) => this.sync.frame(frame));
      this.syncedOnce = false;
      this.live.start();
    }
    return synced;
  }

  /**
   * Sends a message: answers at once with the pending message, which the outbox sends (and
   * sends again, with the same clientMessageId, until the server answers).
   */
  send(conversationId: string, body: string, options: SendOptions = {}): PendingMessage {
    return this.outbox.send(conversationId, body, options);
  }

  /**
   * Tells the other members that the user is typing: a socket frame when connected, else a
   * POST (a bot without a socket). The server passes on one per user and conversation every
   * 2 s, so calling it on every keystroke is harmless, if wasteful.
   */
  typing(conversationId: string): void {
    if (this.live?.send({ type: 'typing', conversationId })) return;
    this.api.typing(conversationId).catch(() => undefined);
  }

  /**
   * Uploads a file for `send(…, { attachmentIds })`. In browsers `onProgress` reports the bytes
   * sent (fetch cannot, so XMLHttpRequest carries it); `signal` cancels the upload.
   */
  upload(
    file: Blob,
    options: { filename?: string; signal?: AbortSignal; onProgress?: (sent: number, total: number) => void } = {},
  ): Promise<Attachment> {
    if (!options.onProgress || !canReportProgress()) return this.api.upload(file, options);
    return uploadWithProgress(`${this.baseUrl}/api/v1/attachments`, file, this.tokens, {
      ...options,
      onProgress: options.onProgress,
    });
  }

  /** Skips the wait before the next reconnection attempt. */
  retryNow(): void {
    this.live?.retryNow();
  }

  /** Resolves once everything queued has been read and emitted (for tests and scripts). */
  idle(): Promise<void> {
    return this.sync.idle();
  }

  /** The cursor kept for a conversation: how far messages and changes have been emitted. */
  cursor(conversationId: string) {
    return this.sync.cursor(conversationId);
  }

  /**
   * Closes the socket and stops reconnecting until `connect` is called again (an application
   * sent to the background); what the client holds is kept, so it catches up on return.
   */
  disconnect(): void {
    const live = this.live;
    this.live = undefined;
    live?.stop();
  }

  /** Drops the socket as a network failure would; the client reconnects and catches up. */
  interruptConnection(): void {
    this.live?.interrupt();
  }

  /** Closes the socket and stops every timer; pending messages are not sent. Does not log out. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sync.stop();
    this.live?.stop(this.endedOnce ? 'ended' : 'closed');
    this.outbox.close();
    if (this.tokens instanceof SessionTokens) this.tokens.stop();
  }

  /** Ends the session on the server (its tokens and sockets), then closes the client. */
  async logout(): Promise<void> {
    try {
      await this.api.logout();
    } finally {
      this.close();
    }
  }

  private tokenSource(options: ParleyClientOptions): TokenSource {
    if (options.session) return new SessionTokens(options.session, (refreshToken) => this.api.refresh(refreshToken));
    if (options.token !== undefined) return new StaticToken(options.token);
    throw new Error('@parley/client: give `session`, `token` or `tokens`');
  }

  private sessionEnded(error: ParleyError | undefined): void {
    if (this.endedOnce) return;
    this.endedOnce = true;
    this.endedError = error ?? new ParleyError(401, 'Unauthorized', 'The session has ended: log in again');
    this.emit('ended', this.endedError);
    this.close();
  }

  private onSyncEvent<K extends keyof SyncEvents>(event: K, value: SyncEvents[K]): void {
    if (event === 'synced') this.syncedOnce = true;
    // The user's own message seen stored: no longer pending (its answer may have been lost).
    if (event === 'message' && (value as Message).senderId === this.user) this.outbox.confirm(value as Message);
    this.emit(event, value as ClientEvents[K]);
  }
}

/** The calls that need no session: register and login. */
function anonymousApi(options: Pick<ParleyClientOptions, 'baseUrl' | 'fetch'>): ParleyApi {
  const baseUrl = options.baseUrl ?? pageOrigin();
  return new ParleyApi(createRawApi({ baseUrl, ...(options.fetch ? { fetch: options.fetch } : {}) }));
}

function pageOrigin(): string {
  const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
  if (!origin || origin === 'null') throw new Error('@parley/client: give `baseUrl` (there is no page origin here)');
  return origin;
}
