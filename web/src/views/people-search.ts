import type { ParleyApi, User } from '@parley/client';
import { errorText } from '../errors.js';
import { el, setChildren } from '../dom.js';
import { arrowKeysThroughResults } from './result-keys.js';

export interface PeopleSearchOptions {
  api: ParleyApi;
  label: string;
  /** data-testid of the input; its results are `user-result` either way. */
  testid?: string;
  placeholder?: string;
  /** Ids not to offer (already chosen, already members). */
  exclude?: () => Set<string>;
  onPick: (user: User) => void;
  /** Remembers every user seen, so names are known without another request. */
  onSeen?: (user: User) => void;
  /** Something to show after a found user's name (their presence). */
  decorate?: (user: User) => Node | null;
}

let nextId = 0;

/** A search box over GET /users with a list of result buttons. Enter picks the first result. */
export function peopleSearch(options: PeopleSearchOptions): { element: HTMLElement; input: HTMLInputElement; clear(): void } {
  const id = `people-search-${++nextId}`;
  const input = el('input', {
    testid: options.testid,
    attrs: {
      id,
      type: 'search',
      placeholder: options.placeholder ?? 'Name or username',
      autocomplete: 'off',
      autocapitalize: 'none',
      spellcheck: 'false',
      maxlength: 64,
      'aria-controls': `${id}-results`,
    },
  });
  const results = el('ul', { class: 'people-results', attrs: { id: `${id}-results`, 'aria-label': 'People found' } });
  const status = el('p', { class: 'people-status muted', attrs: { 'aria-live': 'polite' } });
  let timer: number | undefined;
  let latest = 0;
  let shown: User[] = [];

  function clear(): void {
    window.clearTimeout(timer);
    latest += 1;
    input.value = '';
    shown = [];
    setChildren(results);
    status.textContent = '';
  }

  async function search(q: string): Promise<void> {
    const ticket = ++latest;
    try {
      const page = await options.api.searchUsers(q, { limit: 10 });
      if (ticket !== latest) return;
      const excluded = options.exclude?.() ?? new Set<string>();
      shown = page.items.filter((user) => !excluded.has(user.id));
      for (const user of page.items) options.onSeen?.(user);
      status.textContent = shown.length === 0 ? 'Nobody found.' : '';
      setChildren(
        results,
        ...shown.map((user) =>
          el(
            'li',
            {},
            el(
              'button',
              { testid: 'user-result', class: 'person', attrs: { type: 'button', 'data-user-id': user.id }, on: { click: () => pick(user) } },
              el('span', { class: 'person-name' }, user.displayName || user.username),
              el('span', { class: 'person-username muted' }, `@${user.username}`),
              options.decorate?.(user),
            ),
          ),
        ),
      );
    } catch (error) {
      if (ticket === latest) status.textContent = errorText(error, 'Search failed.');
    }
  }

  function pick(user: User): void {
    clear();
    options.onPick(user);
    input.focus();
  }

  input.addEventListener('input', () => {
    window.clearTimeout(timer);
    const q = input.value.trim();
    if (!q) return clear();
    timer = window.setTimeout(() => void search(q), 200);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      if (shown[0]) pick(shown[0]);
    } else if (event.key === 'Escape' && input.value) {
      event.preventDefault();
      event.stopPropagation();
      clear();
    }
  });
  arrowKeysThroughResults(input, results);

  const element = el(
    'div',
    { class: 'people-search' },
    el('label', { attrs: { for: id } }, options.label),
    input,
    status,
    results,
  );
  return { element, input, clear };
}
