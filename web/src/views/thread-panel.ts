import type { Message, ParleyClient } from '@parley/client';
import { el, setChildren } from '../dom.js';
import { errorText } from '../errors.js';
import { messageBubble, reactionChips, type MessageContext } from './message-content.js';
import type { PanelContent } from './side-panel.js';

export interface ThreadPanelOptions {
  client: ParleyClient;
  root: Message;
  /** How the conversation draws a message, without the thread button (this is the thread). */
  context: (message: Message, previous: Message | undefined) => MessageContext;
}

/**
 * A thread beside its conversation: the root, its replies (`GET /messages/:id/thread`, oldest
 * first) kept live from the client's events, and a composer that replies to the root.
 */
export function threadPanel({ client, root, context }: ThreadPanelOptions): PanelContent {
  const messages = new Map<string, Message>([[root.id, root]]);
  const list = el('ol', { class: 'messages thread-replies', attrs: { 'aria-label': 'Replies' } });
  const status = el('p', { class: 'muted panel-status', attrs: { role: 'status' } }, 'Loading replies…');
  const input = el('textarea', { testid: 'thread-composer', attrs: { id: 'thread-composer', rows: 1, placeholder: 'Reply in thread…' } });
  const form = el(
    'form',
    { class: 'composer thread-composer', attrs: { 'aria-label': 'Reply in thread' } },
    el('label', { class: 'visually-hidden', attrs: { for: 'thread-composer' } }, 'Reply'),
    input,
    el('button', { class: 'primary', testid: 'thread-send', attrs: { type: 'submit' } }, 'Reply'),
  );

  function render(): void {
    const ordered = [...messages.values()].sort((a, b) => a.seq - b.seq);
    const items = ordered.map((message, index) => {
      // Every reply here answers the root: quoting it again would only repeat it.
      const base = context(message, ordered[index - 1]);
      const messageContext = message.replyToId === root.id ? { ...base, quoted: undefined } : base;
      return el(
        'li',
        { class: message.senderId === messageContext.me.id ? 'message mine' : 'message', testid: 'thread-message', attrs: { 'data-seq': message.seq } },
        messageBubble(message, messageContext),
        reactionChips(message, messageContext),
      );
    });
    setChildren(list, ...items);
    const replies = ordered.length - 1;
    status.textContent = replies === 0 ? 'No replies yet.' : `${replies} ${replies === 1 ? 'reply' : 'replies'}`;
  }

  function take(message: Message): void {
    if (message.id !== root.id && message.threadId !== root.id) return;
    const held = messages.get(message.id);
    if (held && held.changeSeq >= message.changeSeq) return;
    messages.set(message.id, message);
    render();
  }

  const unsubscribe = [
    client.on('message', take),
    client.on('messageUpdated', take),
    client.on('sent', ({ message }) => take(message)),
  ];

  void (async () => {
    try {
      for (let after: number | undefined; ; ) {
        const page = await client.api.thread(root.id, after === undefined ? { limit: 100 } : { after, limit: 100 });
        page.items.forEach(take);
        after = page.items.at(-1)?.seq ?? after;
        if (!page.hasMore) break;
      }
      render();
    } catch (error) {
      status.textContent = errorText(error, 'Could not load the replies.');
    }
  })();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    client.send(root.conversationId, body, { replyToId: root.id });
    input.value = '';
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  render();
  status.textContent = 'Loading replies…';
  return {
    title: 'Thread',
    testid: 'thread-panel',
    body: el('div', { class: 'side-panel-body thread-panel' }, status, list, form),
    destroy: () => unsubscribe.forEach((off) => off()),
  };
}
