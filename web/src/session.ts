import type { User } from '@parley/client';

/**
 * The logged-in user, its access token and the refresh token that renews it, kept in
 * localStorage so that a reload keeps the session and the site's tabs share it: a tab that
 * refreshes stores the new pair, and the others take it from here (their copy of the refresh
 * token is used up). localStorage is readable by any script on the page, so an XSS flaw would
 * expose the refresh token; the server's replay detection then ends the session the moment
 * both the thief and this client use it.
 */
export interface Session {
  token: string;
  refreshToken: string;
  /** When `token` expires (ISO 8601). */
  expiresAt: string;
  /** When this client received `token` (ms since the epoch): its lifetime is expiresAt minus this. */
  receivedAt: number;
  user: User;
}

const KEY = 'parley.session';

/** The stored session; one saved before sessions had refresh tokens is none (log in again). */
export function loadSession(): Session | null {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Partial<Session> | null;
    const complete =
      value && typeof value.token === 'string' && typeof value.refreshToken === 'string' && typeof value.expiresAt === 'string' && value.user;
    return complete ? (value as Session) : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // Storage can be unavailable (private modes, quotas): the session then lasts until a reload.
  }
}

export function clearSession(): void {
  try {
    localStorage.removeItem(KEY);
  } catch {
    // As above.
  }
}

/**
 * Calls `listener` when another tab of this site logs in or out: the storage event fires in
 * every tab but the one that changed the session.
 */
export function onSessionChange(listener: () => void): void {
  window.addEventListener('storage', (event) => {
    if (event.key === KEY || event.key === null) listener();
  });
}

const UNSENT_KEY = 'parley.unsent';

/**
 * Text the user wrote and the server never stored, by conversation, kept when the session ends
 * under it (an expired or revoked token) so that logging in again as the same user finds it in
 * the composers. In this tab's sessionStorage only: it is private, and the tab may be a shared
 * machine's.
 */
export function keepUnsent(userId: string, texts: Map<string, string>): void {
  try {
    if (texts.size > 0) sessionStorage.setItem(UNSENT_KEY, JSON.stringify({ userId, texts: [...texts] }));
  } catch {
    // Storage unavailable: the text is lost, as it was before this was kept.
  }
}

/** The text `keepUnsent` kept for this user, once. */
export function takeUnsent(userId: string): Map<string, string> {
  try {
    const kept = JSON.parse(sessionStorage.getItem(UNSENT_KEY) ?? 'null') as { userId: string; texts: [string, string][] } | null;
    sessionStorage.removeItem(UNSENT_KEY);
    return new Map(kept?.userId === userId ? kept.texts : []);
  } catch {
    return new Map();
  }
}
