import type { ToPage, ToWorker } from './messages.js';
import { conversationUrl, genericNotification, messageNotification, type NotificationContent, type PushedConversation, type PushedMessage, type Sender } from './notification-content.js';
import { forgetToken, saveToken, usableToken } from './token-store.js';

/**
 * The web client's service worker (served as /sw.js, scope /): shows a notification for each
 * push and opens its conversation when clicked. It never refreshes tokens: the page's tabs share
 * one refresh token, and a second user of it would look like a replay and end the session. It
 * reads with the access token the page last handed it, and without a usable one shows a generic
 * notification: every push must show one.
 */
declare const self: ServiceWorkerGlobalScope;

self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('message', (event: ExtendableMessageEvent) => {
  if (event.origin !== self.location.origin) return;
  const message = event.data as ToWorker;
  if (message?.type === 'token') keepAlive(event, saveToken({ accessToken: message.accessToken, expiresAt: message.expiresAt }));
  else if (message?.type === 'forget') keepAlive(event, forgetToken());
});

self.addEventListener('push', (event: PushEvent) => {
  keepAlive(event, showPush(event.data));
});

self.addEventListener('notificationclick', (event: NotificationEvent) => {
  event.notification.close();
  const conversationId = (event.notification.data as { conversationId?: unknown } | null)?.conversationId;
  keepAlive(event, openConversation(typeof conversationId === 'string' ? conversationId : undefined));
});

/**
 * Keeps the worker alive until `work` is done. An event the browser did not dispatch itself
 * (from devtools or a test) cannot be extended: the work then just runs.
 */
function keepAlive(event: ExtendableEvent, work: Promise<unknown>): void {
  try {
    event.waitUntil(work);
  } catch {
    void work.catch(() => undefined);
  }
}

/** The payload is the v1 `message.created` frame: ids only. */
async function showPush(data: PushMessageData | null): Promise<void> {
  const frame = parseFrame(data);
  const conversationId = frame?.conversationId ?? '';
  const content = (frame && (await readMessage(frame.id, frame.conversationId))) ?? genericNotification(conversationId);
  await self.registration.showNotification(content.title, content.options);
}

function parseFrame(data: PushMessageData | null): { id: string; conversationId: string } | undefined {
  try {
    const frame = data?.json() as { type?: unknown; id?: unknown; conversationId?: unknown } | undefined;
    if (frame?.type === 'message.created' && typeof frame.id === 'string' && typeof frame.conversationId === 'string') {
      return { id: frame.id, conversationId: frame.conversationId };
    }
  } catch {
    // Not JSON: the generic notification.
  }
  return undefined;
}

/** The message, its conversation and its sender, read with the page's token; undefined if any of that fails. */
async function readMessage(messageId: string, conversationId: string): Promise<NotificationContent | undefined> {
  const token = await usableToken();
  if (!token) return undefined;
  try {
    const get = async <T>(path: string): Promise<T> => {
      const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
      if (!response.ok) throw new Error(`${path}: ${response.status}`);
      return (await response.json()) as T;
    };
    const [message, conversation] = await Promise.all([
      get<PushedMessage>(`/api/v1/messages/${encodeURIComponent(messageId)}`),
      get<PushedConversation>(`/api/v1/conversations/${encodeURIComponent(conversationId)}`),
    ]);
    const sender = await get<Sender>(`/api/v1/users/${encodeURIComponent(message.senderId)}`);
    return messageNotification(conversationId, message, conversation, sender);
  } catch {
    return undefined;
  }
}

/** An open tab of the site shows the conversation (it routes by the URL's #fragment); else a new window. */
async function openConversation(conversationId: string | undefined): Promise<void> {
  const url = new URL(conversationId ? conversationUrl(conversationId) : '/', self.location.origin).href;
  const tabs = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const tab = tabs.find((client) => new URL(client.url).origin === self.location.origin);
  if (!tab) {
    await self.clients.openWindow(url);
    return;
  }
  if (conversationId) tab.postMessage({ type: 'open', conversationId } satisfies ToPage);
  // Focusing needs the click's user activation, which only the browser's own event carries.
  await tab.focus().catch(() => undefined);
}
