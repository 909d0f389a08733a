import { Emitter } from './emitter.js';
import { ParleyError } from './errors.js';
import type { components } from './generated/openapi.js';

/** A new access and refresh token (the answer to a refresh). */
type TokenPair = components['schemas']['TokenPair'];

/** What renewing a refused access token came to. */
export type RenewOutcome = 'renewed' | 'ended' | 'unreachable';

/**
 * Where the client's access token comes from. `SessionTokens` (a session's access and
 * refresh tokens) and `StaticToken` (a bot's token, which never expires) are the two kinds
 * the library has; an application may bring its own (the web client shares one session
 * between its tabs).
 */
export interface TokenSource {
  /** The access token to send now. */
  readonly accessToken: string;
  /** When it expires (ms since the epoch), if known. */
  readonly expiresAt?: number;
  /**
   * The server refused `refusedToken` (401, or the socket closed with 4401): `renewed` once
   * a newer token is there, `ended` when the session is over (log in again), `unreachable`
   * when the server could not be asked (try again later).
   */
  renew(refusedToken: string): Promise<RenewOutcome>;
  /** Called with every new access token: the open socket is renewed with it. */
  onToken(listener: (accessToken: string) => void): () => void;
  /**
   * The server says the socket's token expires at `expiresAt` (ms since the epoch): a source
   * that did not know when its token expires can plan its renewal now.
   */
  expiring?(expiresAt: number): void;
}

/** A token that is never renewed: a bot's, or an access token alone. */
export class StaticToken implements TokenSource {
  constructor(readonly accessToken: string) {}

  renew(refusedToken: string): Promise<RenewOutcome> {
    return Promise.resolve(refusedToken === this.accessToken ? 'ended' : 'renewed');
  }

  onToken(): () => void {
    return () => undefined;
  }
}

/** A session's tokens as an application keeps them (to resume after a restart). */
export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires: ISO 8601, or ms since the epoch. */
  expiresAt?: string | number;
  /** When it was received (ms since the epoch; default: now): its lifetime plans the refresh. */
  receivedAt?: number;
}

export interface SessionTokensEvents extends Record<string, unknown> {
  /** A new pair: keep it (the refresh token given before is used up). */
  tokens: StoredTokens & { expiresAt: string };
  /** The session is over (the refresh token was refused): log in again. */
  ended: ParleyError;
}

/** Never refresh earlier than this before expiry: the server warns sockets 60 s before. */
const REFRESH_MARGIN_MS = 60_000;
/** After a refresh that could not reach the server, try again this soon (or after Retry-After). */
const RETRY_MS = 5_000;

/**
 * A session's access and refresh tokens. The access token is refreshed before it expires (a
 * third of its lifetime before, at most 60 s), and at once when the server refuses it; each
 * refresh uses the refresh token up, so refreshes never overlap. Listen to `tokens` to keep
 * each new pair, and to `ended` for a session that is over.
 */
export class SessionTokens extends Emitter<SessionTokensEvents> implements TokenSource {
  private current: StoredTokens;
  private expiry: number | undefined;
  private receivedAt: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pending: Promise<RenewOutcome> | undefined;
  private stopped = false;
  private isEnded = false;
  private readonly tokenListeners = new Set<(token: string) => void>();

  /** @param refresh exchanges a refresh token for a new pair (`ParleyApi.refresh`). */
  constructor(
    tokens: StoredTokens,
    private readonly refresh: (refreshToken: string) => Promise<TokenPair>,
  ) {
    super();
    this.current = tokens;
    this.expiry = toMs(tokens.expiresAt);
    this.receivedAt = tokens.receivedAt ?? Date.now();
    this.schedule();
  }

  get accessToken(): string {
    return this.current.accessToken;
  }

  get refreshToken(): string {
    return this.current.refreshToken;
  }

  get expiresAt(): number | undefined {
    return this.expiry;
  }

  get ended(): boolean {
    return this.isEnded;
  }

  /** Whether `stop` was called. */
  protected get isStopped(): boolean {
    return this.stopped;
  }

  onToken(listener: (accessToken: string) => void): () => void {
    this.tokenListeners.add(listener);
    return () => this.tokenListeners.delete(listener);
  }

  renew(refusedToken: string): Promise<RenewOutcome> {
    if (this.isEnded || this.stopped) return Promise.resolve('ended');
    if (refusedToken !== this.current.accessToken) return Promise.resolve('renewed');
    return this.mayRefresh() ? this.refreshNow() : this.waitForRenewal(refusedToken);
  }

  expiring(expiresAt: number): void {
    if (this.expiry !== undefined || this.isEnded) return;
    this.expiry = expiresAt;
    this.schedule();
  }

  /** Refreshes now (once, however many ask at the same time). */
  refreshNow(): Promise<RenewOutcome> {
    this.pending ??= this.exchange().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** No more refreshes (the application logged out or closed). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * Whether this copy of the session may refresh. An application that shares one session
   * between several copies (browser tabs) lets only one refresh: the refresh token is single
   * use, and presenting it twice ends the session.
   */
  protected mayRefresh(): boolean {
    return true;
  }

  /** How a copy that may not refresh gets a token after a refusal: by default, it refreshes. */
  protected waitForRenewal(_refusedToken: string): Promise<RenewOutcome> {
    return this.refreshNow();
  }

  /** Takes a pair obtained elsewhere (another tab's refresh) without announcing it as new to keep. */
  adopt(tokens: StoredTokens): void {
    if (this.stopped || tokens.accessToken === this.current.accessToken) return;
    this.use(tokens, false);
  }

  /** Plans the next refresh; call again when `mayRefresh` changes. */
  protected schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || this.isEnded || this.expiry === undefined || !this.mayRefresh()) return;
    const lifetime = Math.max(0, this.expiry - this.receivedAt);
    const at = this.expiry - Math.min(REFRESH_MARGIN_MS, lifetime / 3);
    this.timer = setTimeout(() => void this.refreshNow(), Math.max(0, Math.ceil(at - Date.now())));
    unref(this.timer);
  }

  private async exchange(): Promise<RenewOutcome> {
    if (this.stopped) return 'ended';
    const used = this.current.refreshToken;
    let pair: TokenPair;
    try {
      pair = await this.refresh(used);
    } catch (error) {
      const failure = error instanceof ParleyError ? error : ParleyError.network(error);
      if (this.stopped) return 'ended';
      // Another copy of the session may have refreshed meanwhile (adopt): nothing is lost.
      if (this.current.refreshToken !== used) return 'renewed';
      if (failure.isTransient) {
        this.retryLater(failure.retryAfter);
        return 'unreachable';
      }
      // 401 (used up, ended, revoked) or 400 (not a refresh token at all).
      this.end(failure);
      return 'ended';
    }
    if (this.stopped) return 'ended';
    this.use(pair, true);
    return 'renewed';
  }

  private use(tokens: StoredTokens, fresh: boolean): void {
    this.current = tokens;
    this.expiry = toMs(tokens.expiresAt);
    this.receivedAt = tokens.receivedAt ?? Date.now();
    this.schedule();
    if (fresh) this.emit('tokens', { ...tokens, expiresAt: new Date(this.expiry ?? Date.now()).toISOString() });
    for (const listener of [...this.tokenListeners]) listener(tokens.accessToken);
  }

  private end(failure: ParleyError): void {
    this.isEnded = true;
    clearTimeout(this.timer);
    this.emit('ended', failure);
  }

  private retryLater(retryAfterSeconds?: number): void {
    clearTimeout(this.timer);
    if (this.stopped || !this.mayRefresh()) return;
    this.timer = setTimeout(() => void this.refreshNow(), retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : RETRY_MS);
    unref(this.timer);
  }
}

function toMs(expiresAt: string | number | undefined): number | undefined {
  if (expiresAt === undefined) return undefined;
  const ms = typeof expiresAt === 'number' ? expiresAt : Date.parse(expiresAt);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Node timers keep a process alive; a client's background timers should not. */
export function unref(timer: unknown): void {
  (timer as { unref?: () => void } | undefined)?.unref?.();
}
