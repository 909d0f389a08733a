import { SessionTokens, type ParleyApi, type RenewOutcome } from '@parley/client';
import { saveSession, type Session } from './session.js';

/** How long a tab that is not the leader waits for the leader to renew a refused token. */
const FOLLOWER_WAIT_MS = 10_000;
/** Held by the one tab of the site that refreshes (Web Locks). */
const LEADER_LOCK = 'parley.refresh-leader';
/** Where the other tabs tell the leader that the server refused the current token. */
const CHANNEL = 'parley.refresh';

/**
 * The session's tokens, shared by the site's tabs. @parley/client's SessionTokens refreshes
 * them (before expiry, and when the server refuses one); this decides which tab may. The tabs
 * share one refresh token and each refresh uses it up, so only one tab refreshes: the leader,
 * the tab holding a Web Lock for as long as it is open (the next tab takes over when it
 * closes). It stores each new pair, and the other tabs take it from the storage event
 * (`adopt`). Merely taking turns under a lock is not enough: localStorage reaches other tabs
 * asynchronously, so a tab could read the used-up token after the lock is released and present
 * it again, which the server takes for a replay and ends the session. A tab whose request is
 * refused asks the leader (BroadcastChannel) and waits for the pair it stores.
 */
export class TabTokens extends SessionTokens {
  private leader = false;
  private resignLeadership: (() => void) | undefined;
  private readonly channel: BroadcastChannel | undefined;
  /** Followers waiting for a token other than the one refused. */
  private waiters: ((outcome: RenewOutcome) => void)[] = [];
  private session: Session;

  constructor(session: Session, api: ParleyApi) {
    super(
      { accessToken: session.token, refreshToken: session.refreshToken, expiresAt: session.expiresAt, receivedAt: session.receivedAt },
      (refreshToken) => api.refresh(refreshToken),
    );
    this.session = session;
    // This tab refreshed: the other tabs take the pair from storage.
    this.on('tokens', (pair) => {
      this.session = { ...this.session, token: pair.accessToken, refreshToken: pair.refreshToken, expiresAt: pair.expiresAt, receivedAt: Date.now() };
      saveSession(this.session);
    });
    this.on('ended', () => this.settleWaiters('ended'));
    this.onToken(() => this.settleWaiters('renewed'));
    this.channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : undefined;
    if (this.channel) {
      this.channel.onmessage = (event: MessageEvent<{ refused?: string }>) => {
        if (this.leader && typeof event.data?.refused === 'string') void this.renew(event.data.refused);
      };
    }
    if (navigator.locks) {
      void navigator.locks.request(LEADER_LOCK, () => {
        if (this.isStopped || this.ended) return undefined;
        this.leader = true;
        this.schedule();
        return new Promise<void>((resolve) => (this.resignLeadership = resolve));
      });
    } else {
      // No Web Locks (older browsers): every tab refreshes for itself, as before tabs were shared.
      this.leader = true;
      this.schedule();
    }
  }

  /** Another tab stored a newer pair (the leader's refresh, or a new login as this user). */
  adoptSession(stored: Session): void {
    this.session = stored;
    this.adopt({ accessToken: stored.token, refreshToken: stored.refreshToken, expiresAt: stored.expiresAt, receivedAt: stored.receivedAt });
  }

  override stop(): void {
    super.stop();
    this.resignLeadership?.();
    this.channel?.close();
    this.settleWaiters('ended');
  }

  protected override mayRefresh(): boolean {
    return this.leader === true;
  }

  /** A follower's token was refused: the leader renews it, and this tab adopts what it stores. */
  protected override waitForRenewal(refusedToken: string): Promise<RenewOutcome> {
    return new Promise<RenewOutcome>((resolve) => {
      const timeout = window.setTimeout(() => settle('unreachable'), FOLLOWER_WAIT_MS);
      const settle = (outcome: RenewOutcome) => {
        window.clearTimeout(timeout);
        this.waiters = this.waiters.filter((waiter) => waiter !== settle);
        resolve(outcome);
      };
      this.waiters.push(settle);
      this.channel?.postMessage({ refused: refusedToken });
    });
  }

  private settleWaiters(outcome: RenewOutcome): void {
    for (const settle of [...(this.waiters ?? [])]) settle(outcome);
  }
}
