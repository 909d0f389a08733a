import { el, setAttr } from '../dom.js';
import type { PresenceState, PresenceStore } from '../presence.js';

/**
 * "last seen just now", "last seen 5 min ago", "last seen today at 09:12", "last seen
 * yesterday at 14:05", "last seen Monday at 14:05", "last seen 3 Nov 2025".
 */
export function lastSeenText(iso: string, now = new Date()): string {
  const seen = new Date(iso);
  const minutes = Math.floor((now.getTime() - seen.getTime()) / 60_000);
  if (minutes < 1) return 'last seen just now';
  if (minutes < 60) return `last seen ${minutes} min ago`;
  const time = seen.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (seen.toDateString() === now.toDateString()) return `last seen today at ${time}`;
  if (seen.toDateString() === yesterday.toDateString()) return `last seen yesterday at ${time}`;
  const days = (now.getTime() - seen.getTime()) / 86_400_000;
  if (days < 6) return `last seen ${seen.toLocaleDateString(undefined, { weekday: 'long' })} at ${time}`;
  return `last seen ${seen.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' })}`;
}

/** "online", "last seen …", or "offline" (a user who does not share presence). */
export function presenceText(state: PresenceState): string {
  if (state.status === 'online') return 'online';
  return state.lastSeenAt ? lastSeenText(state.lastSeenAt) : 'offline';
}

/** How often relative times ("5 min ago") are written again. */
const RETELL_MS = 30_000;

/**
 * Keeps every presence dot and line on the page current: repainted when the store changes, and
 * every 30 s for the relative times. Answers the function that stops it.
 */
export function keepPresenceShown(store: PresenceStore): () => void {
  const paint = () => paintPresence(store);
  const off = store.changed.subscribe(paint);
  const timer = window.setInterval(paint, RETELL_MS);
  return () => {
    off();
    window.clearInterval(timer);
  };
}

/**
 * A dot for a user's presence: filled green when online, a grey ring when offline, so shape
 * tells it as well as colour; its text alternative (and tooltip) says the same in words.
 * Hidden while the presence is unknown or not shared. Repainted by `keepPresenceShown`, so a
 * list built once stays current.
 */
export function presenceDot(store: PresenceStore, userId: string): HTMLElement {
  const dot = el('span', { class: 'presence-dot', testid: 'presence-dot', attrs: { role: 'img', 'data-user-id': userId } });
  paint(dot, store.get(userId));
  return dot;
}

/**
 * A conversation header's line: "online" or "last seen …" beside a dot for the other person of
 * a direct conversation, "2 online" for a group's other members. Hidden while nothing is known.
 */
export class PresenceLine {
  readonly element = el('p', { class: 'presence-line', testid: 'presence-status' });

  constructor(private readonly store: PresenceStore) {}

  show(userIds: string[]): void {
    const ids = userIds.join(',');
    if (this.element.dataset.userIds === ids) return;
    this.element.dataset.userIds = ids;
    paintLine(this.element, this.store);
  }
}

function paintPresence(store: PresenceStore): void {
  for (const dot of document.querySelectorAll<HTMLElement>('.presence-dot[data-user-id]')) paint(dot, store.get(dot.dataset.userId ?? ''));
  for (const line of document.querySelectorAll<HTMLElement>('.presence-line')) paintLine(line, store);
}

function paintLine(line: HTMLElement, store: PresenceStore): void {
  const states = (line.dataset.userIds ?? '').split(',').filter(Boolean).map((id) => store.get(id));
  const known = states.filter((state): state is PresenceState => Boolean(state));
  let status = '';
  let text = '';
  if (states.length === 1 && known[0]) {
    status = known[0].status;
    text = presenceText(known[0]);
  } else if (states.length > 1 && known.length > 0) {
    const online = known.filter((state) => state.status === 'online').length;
    status = online > 0 ? 'online' : 'offline';
    text = `${online} online`;
  }
  line.hidden = !text;
  line.dataset.status = status;
  const words = line.lastElementChild;
  if (words?.textContent === text) return;
  // The dot beside the words is decoration: the words say it.
  line.replaceChildren(el('span', { class: 'presence-dot', attrs: { 'aria-hidden': 'true', 'data-status': status } }), el('span', {}, text));
}

function paint(dot: HTMLElement, state: PresenceState | null | undefined): void {
  dot.hidden = !state;
  const status = state?.status ?? '';
  if (dot.dataset.status !== status) dot.dataset.status = status;
  const label = state ? presenceText(state) : null;
  if (dot.getAttribute('aria-label') !== label) {
    setAttr(dot, 'aria-label', label);
    setAttr(dot, 'title', label);
  }
}
