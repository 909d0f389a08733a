/**
 * What the page and the service worker say to each other (postMessage). Types only: the worker
 * is built as one self-contained file, so it shares no code with the page.
 */

/** Page to worker. */
export type ToWorker =
  /** The session's current access token, each time it changes: the worker never refreshes. */
  | { type: 'token'; accessToken: string; expiresAt: number }
  /** Logged out: forget the token. */
  | { type: 'forget' };

/** Worker to page: a notification was clicked and this tab is to show its conversation. */
export type ToPage = { type: 'open'; conversationId: string };
