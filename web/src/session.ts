import type { User } from './api.js';

/** The logged-in user and its access token, kept in localStorage so a reload keeps the session. */
export interface Session {
  token: string;
  user: User;
}

const KEY = 'parley.session';

export function loadSession(): Session | null {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Partial<Session> | null;
    return value && typeof value.token === 'string' && value.user ? (value as Session) : null;
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
