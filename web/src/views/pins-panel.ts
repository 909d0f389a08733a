import type { Message, ParleyClient } from '@parley/client';
import { el, formatActivity, formatFull, setChildren } from '../dom.js';
import { errorText } from '../errors.js';
import type { UserDirectory } from '../users.js';
import { snippet } from './message-content.js';
import type { PanelContent } from './side-panel.js';

export interface PinsPanelOptions {
  client: ParleyClient;
  conversationId: string;
  users: UserDirectory;
  /** Shows the message in the conversation (loading history back to it) and highlights it. */
  jump: (message: Message) => void;
}

/** The conversation's pinned messages, newest pin first, re-read when a message here changes. */
export function pinsPanel({ client, conversationId, users, jump }: PinsPanelOptions): PanelContent {
  const list = el('ul', { class: 'panel-list', attrs: { 'aria-label': 'Pinned messages' } });
  const status = el('p', { class: 'muted panel-status', attrs: { role: 'status' } }, 'Loading pinned messages…');
  let reading: Promise<void> | undefined;
  let again = false;

  async function load(): Promise<void> {
    try {
      const pins = await client.api.pins(conversationId);
      status.textContent = pins.length === 0 ? 'Nothing is pinned here yet. Pin a message from its menu.' : '';
      setChildren(list, ...pins.map(pinItem));
    } catch (error) {
      status.textContent = errorText(error, 'Could not load the pinned messages.');
    }
  }

  function reload(): void {
    if (reading) {
      again = true;
      return;
    }
    reading = load().finally(() => {
      reading = undefined;
      if (again) {
        again = false;
        reload();
      }
    });
  }

  function pinItem(message: Message): HTMLLIElement {
    return el(
      'li',
      {},
      el(
        'button',
        { class: 'panel-item', testid: 'pin-item', attrs: { type: 'button' }, on: { click: () => jump(message) } },
        el('span', { class: 'panel-item-head' }, el('span', { class: 'panel-item-name', attrs: { dir: 'auto' } }, users.name(message.senderId)), el('time', { class: 'muted', attrs: { datetime: message.createdAt, title: formatFull(message.createdAt) } }, formatActivity(message.createdAt))),
        el('span', { class: 'panel-item-text', attrs: { dir: 'auto' } }, message.deletedAt ? 'This message was deleted.' : snippet(message.body ?? '', 140)),
      ),
    );
  }

  const off = client.on('messageUpdated', (message) => {
    if (message.conversationId === conversationId) reload();
  });
  reload();
  return {
    title: 'Pinned messages',
    testid: 'pins-panel',
    body: el('div', { class: 'side-panel-body' }, status, list),
    destroy: off,
  };
}
