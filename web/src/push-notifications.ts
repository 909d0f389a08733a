import { failedWith } from './errors.js';
import type { ParleyApi } from '@parley/client';
import type { ToPage, ToWorker } from './sw/messages.js';

/** What the settings switch shows. */
export type PushState = 'on' | 'off' | 'blocked' | 'unsupported' | 'failed';

/** The server's id of this browser's subscription, and whose it is. */
const SUBSCRIPTION_KEY = 'parley.push-subscription';
const WORKER_URL = '/sw.js';

/** Service workers and the Push API exist only in secure contexts (https, or localhost). */
export function pushSupported(): boolean {
  return window.isSecureContext && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/**
 * Web Push for the logged-in user: the browser's subscription, registered with the server, and
 * the access token handed to the service worker each time it changes. The worker never
 * refreshes the token itself (src/sw/service-worker.ts says why). Permission is asked only from
 * `enable`, which only a click calls.
 */
export class PushNotifications {
  constructor(
    private readonly api: ParleyApi,
    private readonly userId: string,
    private readonly currentToken: () => { accessToken: string; expiresAt: number | undefined },
  ) {}

  async state(): Promise<PushState> {
    if (!pushSupported()) return 'unsupported';
    if (Notification.permission === 'denied') return 'blocked';
    if (Notification.permission !== 'granted' || !this.storedId()) return 'off';
    return (await this.subscription()) ? 'on' : 'off';
  }

  /** Asks permission, subscribes with the browser's push service, and registers it with the server. */
  async enable(): Promise<PushState> {
    if (!pushSupported()) return 'unsupported';
    const permission = await Notification.requestPermission();
    if (permission === 'denied') return 'blocked';
    if (permission !== 'granted') return 'off';
    try {
      await navigator.serviceWorker.register(WORKER_URL, { scope: '/' });
      const registration = await navigator.serviceWorker.ready;
      await this.handToken();
      const applicationServerKey = fromBase64Url(await this.api.vapidPublicKey());
      const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
      const id = await this.api.subscribePush(subscription.toJSON() as Parameters<ParleyApi['subscribePush']>[0]);
      localStorage.setItem(SUBSCRIPTION_KEY, JSON.stringify({ userId: this.userId, id }));
      return 'on';
    } catch {
      // The browser's push service could not be reached (or the server refused the subscription).
      return 'failed';
    }
  }

  /** Unsubscribes in the browser and on the server. */
  async disable(): Promise<void> {
    const subscription = await this.subscription().catch(() => undefined);
    await subscription?.unsubscribe().catch(() => false);
    const id = this.storedId();
    try {
      localStorage.removeItem(SUBSCRIPTION_KEY);
    } catch {
      // Storage unavailable: nothing was kept.
    }
    if (id) {
      await this.api.unsubscribePush(id).catch((error: unknown) => {
        if (!failedWith(error, 404)) throw error;
      });
    }
  }

  /** Logging out: no more notifications here, and the worker forgets the token. */
  async logOut(): Promise<void> {
    await this.disable().catch(() => undefined);
    await this.tell({ type: 'forget' });
  }

  /**
   * A subscription this browser holds for another account (whose session ended without logging
   * out) is ended: its pushes are not this user's, and the worker would read them with this
   * user's token. The push service then answers the server 410, and the server forgets it.
   */
  async endOtherAccounts(): Promise<void> {
    if (!pushSupported() || this.storedId()) return;
    const subscription = await this.subscription().catch(() => undefined);
    if (!subscription) return;
    await subscription.unsubscribe().catch(() => false);
    try {
      localStorage.removeItem(SUBSCRIPTION_KEY);
    } catch {
      // Storage unavailable: nothing was kept.
    }
  }

  /** Gives the worker (if one is registered) the session's current access token. */
  async handToken(): Promise<void> {
    const { accessToken, expiresAt } = this.currentToken();
    // Unknown expiry: assume the shortest the server issues, so a stale one is not kept for long.
    await this.tell({ type: 'token', accessToken, expiresAt: expiresAt ?? Date.now() + 60_000 });
  }

  private async tell(message: ToWorker): Promise<void> {
    if (!pushSupported()) return;
    const registration = await navigator.serviceWorker.getRegistration('/');
    (registration?.active ?? registration?.waiting ?? registration?.installing)?.postMessage(message);
  }

  private async subscription(): Promise<PushSubscription | undefined> {
    const registration = await navigator.serviceWorker.getRegistration('/');
    return (await registration?.pushManager.getSubscription()) ?? undefined;
  }

  /** This user's subscription id; one stored for another user does not count. */
  private storedId(): string | undefined {
    try {
      const stored = JSON.parse(localStorage.getItem(SUBSCRIPTION_KEY) ?? 'null') as { userId?: string; id?: string } | null;
      return stored?.userId === this.userId ? stored.id : undefined;
    } catch {
      return undefined;
    }
  }
}

/** A clicked notification asks an open tab to show its conversation (the worker cannot route the page). */
export function followNotificationClicks(open: (conversationId: string) => void): void {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (event: MessageEvent<ToPage>) => {
    if (event.data?.type === 'open' && typeof event.data.conversationId === 'string') open(event.data.conversationId);
  });
  navigator.serviceWorker.startMessages();
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
