import { Emitter } from './emitter.js';
import { ParleyError } from './errors.js';
import { CloseCode, parseServerFrame, type ClientFrame, type ServerFrame } from './frames.js';
import type { SocketHandle, SocketOpener } from './socket.js';
import { unref, type TokenSource } from './tokens.js';

export type ConnectionState = 'connecting' | 'online' | 'offline' | 'closed' | 'ended';

export interface ConnectionStatus {
  /**
   * `connecting`; `online` once the server said `ready`; `offline` between attempts; `closed`
   * by `close()`; `ended` when the session is over (log in again).
   */
  state: ConnectionState;
  /** While offline: when the next attempt starts (ms since the epoch). */
  retryAt?: number;
  /** While offline: the browser says there is no network, so no attempt is scheduled. */
  waitingForNetwork?: boolean;
  /** While offline: the close code of the last socket, or the failure of the last attempt. */
  closeCode?: number;
  error?: ParleyError;
}

/** Frames the connection passes on; it handles `ready`, `pong` and `token.expiring` itself. */
export type NotificationFrame = Exclude<ServerFrame, { type: 'ready' | 'pong' | 'token.expiring' }>;

export interface LiveEvents extends Record<string, unknown> {
  status: ConnectionStatus;
  /** The socket is subscribed: everything committed from now on will be announced. Catch up now. */
  ready: { userId: string };
  frame: NotificationFrame;
}

export interface LiveOptions {
  /** ws(s)://host/ws */
  url: string;
  opener: SocketOpener;
  tokens: TokenSource;
  /** A ticket for a browser socket. */
  ticket: () => Promise<string>;
  /** The first wait after a failure; it doubles on each failure up to `maxRetryMs`. */
  firstRetryMs?: number;
  maxRetryMs?: number;
  /** How often to ping; a socket that has been silent for `deadAfterMs` is dropped. */
  pingIntervalMs?: number;
  deadAfterMs?: number;
}

interface BrowserGlobals {
  navigator?: { onLine?: boolean };
  addEventListener?: (type: string, listener: () => void) => void;
  removeEventListener?: (type: string, listener: () => void) => void;
  document?: {
    visibilityState?: string;
    addEventListener(type: string, listener: () => void): void;
    removeEventListener(type: string, listener: () => void): void;
  };
}

/**
 * The notification socket, kept open: it authenticates (a bearer token, or a ticket in
 * browsers), reconnects with exponential backoff and full jitter over the upper half,
 * answers `token.expiring` with an `auth` frame carrying the newest token, pings to notice a
 * dead connection, and in browsers follows the network's online and offline events.
 * Each `ready` (first or after a reconnect) tells the owner to catch up.
 */
export class LiveConnection extends Emitter<LiveEvents> {
  private socket: SocketHandle | undefined;
  private socketOpen = false;
  /** The access token the open socket was last authenticated with. */
  private socketToken: string | undefined;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private started = false;
  private stopped = false;
  private connecting = false;
  private current: ConnectionStatus = { state: 'closed' };
  private readonly offToken: () => void;
  private readonly browser = globalThis as unknown as BrowserGlobals;

  constructor(private readonly options: LiveOptions) {
    super();
    this.offToken = options.tokens.onToken((token) => this.renew(token));
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.browser.addEventListener?.('online', this.onOnline);
    this.browser.addEventListener?.('offline', this.onOffline);
    this.browser.document?.addEventListener('visibilitychange', this.onVisible);
    void this.connect();
  }

  /** Closes the socket for good; `ended` when the session is over rather than closed by the owner. */
  stop(final: 'closed' | 'ended' = 'closed'): void {
    if (this.stopped) return;
    this.stopped = true;
    this.offToken();
    this.browser.removeEventListener?.('online', this.onOnline);
    this.browser.removeEventListener?.('offline', this.onOffline);
    this.browser.document?.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.retryTimer);
    this.drop();
    if (this.current.state !== 'ended') this.setStatus({ state: final });
  }

  /** Skips the wait before the next attempt. */
  retryNow(): void {
    if (!this.started || this.stopped || this.socket || this.connecting) return;
    clearTimeout(this.retryTimer);
    void this.connect();
  }

  /** Sends a frame if the socket is open; answers whether it was sent. */
  send(frame: ClientFrame): boolean {
    if (!this.socket || !this.socketOpen) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Drops the socket as a lost network would, and reconnects after the usual wait (tests, diagnostics). */
  interrupt(): void {
    if (!this.socket) return;
    this.drop();
    this.scheduleRetry();
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.socket || this.connecting) return;
    if (this.browser.navigator?.onLine === false) return this.setStatus({ state: 'offline', waitingForNetwork: true });
    this.connecting = true;
    this.setStatus({ state: 'connecting' });
    const { tokens, opener } = this.options;
    let url = this.options.url;
    let token = tokens.accessToken;
    if (opener.auth === 'ticket') {
      try {
        const ticket = await this.options.ticket();
        url += `${url.includes('?') ? '&' : '?'}ticket=${encodeURIComponent(ticket)}`;
        // Asking for the ticket may have renewed the token: the socket lives on the token that asked.
        token = tokens.accessToken;
      } catch (error) {
        this.connecting = false;
        const failure = error instanceof ParleyError ? error : ParleyError.network(error);
        if (failure.statusCode === 401) return this.afterRefusal(tokens.accessToken, failure);
        return this.scheduleRetry({ error: failure });
      }
    }
    this.connecting = false;
    if (this.stopped) return;
    const socket: SocketHandle = opener.open(url, opener.auth === 'bearer' ? token : undefined, {
      open: () => {
        if (this.socket === socket) this.socketOpen = true;
      },
      message: (data) => {
        if (this.socket !== socket) return;
        this.lastHeard = Date.now();
        this.onFrame(data);
      },
      close: (code, _reason, handshakeStatus) => {
        if (this.socket !== socket) return;
        this.socket = undefined;
        this.socketOpen = false;
        this.stopPinging();
        if (code === CloseCode.Unauthorized || handshakeStatus === 401) return void this.afterRefusal(token);
        this.scheduleRetry({ closeCode: handshakeStatus ?? code });
      },
    });
    this.socket = socket;
    this.socketToken = token;
  }

  /**
   * Refused for its token (4401, or a 401 handshake): it expired unrenewed (a process that
   * slept through the renewal) or the session ended. With a fresh token, reconnect; with
   * none, the session is over.
   */
  private async afterRefusal(token: string, failure?: ParleyError): Promise<void> {
    const outcome = await this.options.tokens.renew(token);
    if (this.stopped) return;
    if (outcome === 'ended') {
      this.setStatus({ state: 'ended', error: failure ?? new ParleyError(401, 'Unauthorized', 'The session has ended: log in again') });
      return;
    }
    // A refusal right after a renewal would otherwise reconnect in a tight loop.
    if (outcome === 'renewed' && this.attempt === 0) {
      this.attempt = 1;
      return void this.connect();
    }
    this.scheduleRetry({ closeCode: CloseCode.Unauthorized, error: failure });
  }

  private onFrame(data: string): void {
    const frame = parseServerFrame(data);
    if (!frame) return;
    switch (frame.type) {
      case 'ready':
        this.attempt = 0;
        this.startPinging();
        this.setStatus({ state: 'online' });
        this.emit('ready', { userId: frame.userId });
        return;
      case 'pong':
        return;
      case 'token.expiring': {
        // A newer token than the socket's is already here: renew with it now. Otherwise the
        // token source's refresh, due before that expiry, renews the socket when it lands.
        const { tokens } = this.options;
        const socketExpiry = Date.parse(frame.expiresAt);
        if (tokens.expiresAt === undefined) tokens.expiring?.(socketExpiry);
        if (tokens.expiresAt !== undefined && tokens.expiresAt > socketExpiry) {
          this.socketToken = undefined;
          this.renew(this.options.tokens.accessToken);
        }
        return;
      }
      default:
        this.emit('frame', frame);
    }
  }

  /** A new access token: the open socket is renewed with it, so it outlives the old one. */
  private renew(token: string): void {
    if (!this.socketOpen || this.socketToken === token) return;
    this.socketToken = token;
    this.send({ type: 'auth', accessToken: token });
  }

  private scheduleRetry(detail: { closeCode?: number; error?: ParleyError } = {}): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    if (this.browser.navigator?.onLine === false) return this.setStatus({ state: 'offline', waitingForNetwork: true, ...detail });
    const first = this.options.firstRetryMs ?? 500;
    const ceiling = Math.min(this.options.maxRetryMs ?? 30_000, first * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.attempt += 1;
    this.setStatus({ state: 'offline', retryAt: Date.now() + delay, ...detail });
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private startPinging(): void {
    this.stopPinging();
    const every = this.options.pingIntervalMs ?? 15_000;
    const deadAfter = this.options.deadAfterMs ?? every * 2 + 5_000;
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > deadAfter) {
        // A half-open connection can take minutes to report its close: give up on it now.
        this.drop();
        this.scheduleRetry();
        return;
      }
      this.send({ type: 'ping' });
    }, every);
    unref(this.pingTimer);
  }

  private stopPinging(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  /** Forgets the socket first, so its late close event schedules nothing. */
  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.socketOpen = false;
    this.stopPinging();
    socket?.close();
  }

  private setStatus(status: ConnectionStatus): void {
    this.current = status;
    this.emit('status', status);
  }

  private readonly onOnline = (): void => {
    this.attempt = 0;
    this.retryNow();
  };

  private readonly onOffline = (): void => {
    clearTimeout(this.retryTimer);
    this.drop();
    this.setStatus({ state: 'offline', waitingForNetwork: true });
  };

  private readonly onVisible = (): void => {
    if (this.browser.document?.visibilityState === 'visible') this.retryNow();
  };
}
