import { CloseCode, type ClientFrame, type ServerFrame } from '../../src/notifications/frames.js';
import { ApiError, type Api } from './api.js';

export type ConnectionState = 'connecting' | 'online' | 'offline';

export interface ConnectionStatus {
  state: ConnectionState;
  /** While offline: when the next attempt starts (ms since the epoch), unless waiting for the network. */
  retryAt?: number;
  /** While offline: the browser says there is no network, so no attempt is scheduled. */
  waitingForNetwork?: boolean;
}

export interface LiveHandlers {
  status(status: ConnectionStatus): void;
  /** The socket is subscribed: everything committed from now on will be announced. Catch up now. */
  ready(): void;
  frame(frame: Exclude<ServerFrame, { type: 'ready' | 'pong' }>): void;
  /** The server closed with 4401 or refused the token: the session is over. */
  unauthorized(): void;
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
/** How often the client pings; a socket silent for DEAD_AFTER_MS (two missed pongs) is dropped. */
const PING_EVERY_MS = 15_000;
const DEAD_AFTER_MS = 35_000;

/**
 * The socket half of the narrowfail flow: `/ws` with a single-use ticket, reconnecting with
 * exponential backoff and jitter. Each `ready` (first or after a reconnect) tells the app to
 * catch up over REST; frames only say what changed.
 */
export class LiveConnection {
  private socket: WebSocket | undefined;
  private attempt = 0;
  private retryTimer: number | undefined;
  private pingTimer: number | undefined;
  private lastHeard = 0;
  private stopped = false;
  private connecting = false;

  constructor(
    private readonly api: Api,
    private readonly handlers: LiveHandlers,
  ) {}

  start(): void {
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    document.addEventListener('visibilitychange', this.onVisible);
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    document.removeEventListener('visibilitychange', this.onVisible);
    window.clearTimeout(this.retryTimer);
    this.drop();
  }

  /** Skips the backoff wait (the "Retry now" button). */
  retryNow(): void {
    if (this.stopped || this.socket || this.connecting) return;
    window.clearTimeout(this.retryTimer);
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.socket || this.connecting) return;
    if (!navigator.onLine) return this.handlers.status({ state: 'offline', waitingForNetwork: true });
    this.connecting = true;
    this.handlers.status({ state: 'connecting' });
    let ticket: string;
    try {
      ticket = (await this.api.wsTicket()).ticket;
    } catch (error) {
      this.connecting = false;
      // A 401 has already ended the session (Api's onUnauthorized); anything else is retried.
      if (error instanceof ApiError && error.status === 401) return;
      return this.scheduleRetry();
    }
    this.connecting = false;
    if (this.stopped) return;

    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/ws?ticket=${encodeURIComponent(ticket)}`);
    this.socket = socket;
    socket.addEventListener('message', (event) => {
      if (this.socket !== socket) return;
      this.lastHeard = Date.now();
      this.onFrame(event.data);
    });
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.stopPinging();
      if (event.code === CloseCode.Unauthorized) return this.handlers.unauthorized();
      this.scheduleRetry();
    });
  }

  private onFrame(data: unknown): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(String(data)) as ServerFrame;
    } catch {
      return;
    }
    switch (frame.type) {
      case 'ready':
        this.attempt = 0;
        this.startPinging();
        this.handlers.status({ state: 'online' });
        this.handlers.ready();
        return;
      case 'pong':
        return;
      default:
        this.handlers.frame(frame);
    }
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    window.clearTimeout(this.retryTimer);
    if (!navigator.onLine) return this.handlers.status({ state: 'offline', waitingForNetwork: true });
    // Full jitter over the upper half, so that many clients dropped at once do not return at once.
    const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.attempt += 1;
    this.handlers.status({ state: 'offline', retryAt: Date.now() + delay });
    this.retryTimer = window.setTimeout(() => void this.connect(), delay);
  }

  private startPinging(): void {
    this.stopPinging();
    this.pingTimer = window.setInterval(() => {
      if (Date.now() - this.lastHeard > DEAD_AFTER_MS) {
        // A half-open connection can take minutes to report its close: give up on it now.
        this.drop();
        this.scheduleRetry();
        return;
      }
      this.send({ type: 'ping' });
    }, PING_EVERY_MS);
  }

  private stopPinging(): void {
    window.clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private send(frame: ClientFrame): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  /** Forgets the socket first, so its late close event schedules nothing. */
  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.stopPinging();
    socket?.close();
  }

  private readonly onOnline = (): void => {
    this.attempt = 0;
    this.retryNow();
  };

  private readonly onOffline = (): void => {
    window.clearTimeout(this.retryTimer);
    this.drop();
    this.handlers.status({ state: 'offline', waitingForNetwork: true });
  };

  private readonly onVisible = (): void => {
    if (document.visibilityState === 'visible') this.retryNow();
  };
}
