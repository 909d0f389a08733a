import type { ParleyApi, SearchHit, User } from '@parley/client';
import type { ConversationStore } from '../conversations.js';
import { el, formatActivity, formatFull, setChildren } from '../dom.js';
import { errorText } from '../errors.js';
import type { UserDirectory } from '../users.js';
import { conversationTitle } from '../conversation-title.js';
import { arrowKeysThroughResults } from './result-keys.js';

export interface MessageSearchOptions {
  api: ParleyApi;
  me: User;
  conversations: ConversationStore;
  users: UserDirectory;
  /** Opens the conversation at the message, highlighted. */
  openAt: (conversationId: string, seq: number) => void;
  /** Told whether results are showing, so the list can step aside. */
  onActive: (active: boolean) => void;
}

/**
 * A search box over the messages of all the caller's conversations (GET /search/messages).
 * Each result names the conversation, the sender and the time, with the matches marked.
 */
export function messageSearch(options: MessageSearchOptions): HTMLElement {
  const input = el('input', {
    testid: 'message-search',
    attrs: { id: 'message-search', type: 'search', placeholder: 'Search messages', autocomplete: 'off', maxlength: 200, 'aria-controls': 'message-search-results' },
  });
  const status = el('p', { class: 'people-status muted', testid: 'search-status', attrs: { 'aria-live': 'polite' } });
  const results = el('ul', { class: 'panel-list search-results', attrs: { id: 'message-search-results', 'aria-label': 'Messages found' } });
  let timer: number | undefined;
  let latest = 0;

  function clear(): void {
    window.clearTimeout(timer);
    latest += 1;
    status.textContent = '';
    setChildren(results);
    options.onActive(false);
  }

  async function search(q: string): Promise<void> {
    const ticket = ++latest;
    status.textContent = 'Searching…';
    options.onActive(true);
    try {
      const page = await options.api.search({ q, limit: 20 });
      if (ticket !== latest) return;
      status.textContent = page.items.length === 0 ? 'No messages found.' : `${page.items.length}${page.nextCursor ? '+' : ''} found`;
      setChildren(results, ...page.items.map(resultItem));
    } catch (error) {
      if (ticket === latest) status.textContent = errorText(error, 'Search failed.');
    }
  }

  function resultItem({ message, highlight }: SearchHit): HTMLLIElement {
    const conversation = options.conversations.get(message.conversationId);
    const where = conversation ? conversationTitle(conversation, options.me, options.users) : 'Conversation';
    const text = el('span', { class: 'panel-item-text', attrs: { dir: 'auto' } });
    showHighlight(text, highlight, message.body ?? '');
    return el(
      'li',
      {},
      el(
        'button',
        {
          class: 'panel-item',
          testid: 'search-result',
          attrs: { type: 'button' },
          on: {
            click: () => {
              input.value = '';
              clear();
              options.openAt(message.conversationId, message.seq);
            },
          },
        },
        el(
          'span',
          { class: 'panel-item-head' },
          el('span', { class: 'panel-item-name', attrs: { dir: 'auto' } }, where),
          el('time', { class: 'muted', attrs: { datetime: message.createdAt, title: formatFull(message.createdAt) } }, formatActivity(message.createdAt)),
        ),
        el('span', { class: 'muted search-sender', attrs: { dir: 'auto' } }, message.senderId === options.me.id ? 'You' : options.users.name(message.senderId)),
        text,
      ),
    );
  }

  input.addEventListener('input', () => {
    window.clearTimeout(timer);
    const q = input.value.trim();
    if (!q) return clear();
    timer = window.setTimeout(() => void search(q), 250);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && input.value) {
      event.preventDefault();
      input.value = '';
      clear();
    }
  });
  arrowKeysThroughResults(input, results);

  return el(
    'div',
    { class: 'people-search message-search', attrs: { role: 'search' } },
    el('label', { attrs: { for: 'message-search' } }, 'Search messages'),
    input,
    status,
    results,
  );
}

/**
 * The server's highlight is the body HTML-escaped with matches in <mark>: it is inserted as
 * markup only when it holds no other tag; otherwise the plain body is shown as text.
 */
function showHighlight(target: HTMLElement, highlight: string, body: string): void {
  if (/[<>]/.test(highlight.replace(/<\/?mark>/g, ''))) target.textContent = body;
  else target.innerHTML = highlight;
}
