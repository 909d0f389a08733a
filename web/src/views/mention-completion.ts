import type { User } from '@parley/client';
import { el, setAttr, setChildren } from '../dom.js';
import { avatar } from '../identity.js';

/** The `@word` just before the caret, if the caret is at the end of one. */
const MENTION_AT_CARET = /(^|\s)@([\p{L}\p{N}_.-]{0,32})$/u;
const MAX_OPTIONS = 6;

/**
 * `@` in a textarea offers the conversation's members by username or display name, in a listbox
 * under it: ArrowUp/ArrowDown move (aria-activedescendant), Enter or Tab inserts `@username `,
 * Escape closes. `handleKey` runs before the composer's own keys, and says whether it used one.
 */
export class MentionCompletion {
  readonly element = el('ul', { class: 'mention-list', testid: 'mention-list', attrs: { id: 'mention-list', role: 'listbox', 'aria-label': 'Mention someone' } });
  private options: User[] = [];
  private active = 0;
  private start = 0;

  constructor(
    private readonly input: HTMLTextAreaElement,
    /** The members one can mention here (not the caller). */
    private readonly members: () => User[],
  ) {
    this.element.hidden = true;
    setAttr(input, 'aria-autocomplete', 'list');
    setAttr(input, 'aria-controls', 'mention-list');
    input.addEventListener('input', () => this.update());
    input.addEventListener('blur', () => this.close());
  }

  handleKey(event: KeyboardEvent): boolean {
    if (this.element.hidden || event.isComposing) return false;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      this.active = (this.active + (event.key === 'ArrowDown' ? 1 : -1) + this.options.length) % this.options.length;
      this.render();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      this.insert(this.options[this.active]!);
    } else if (event.key === 'Escape') {
      this.close();
    } else {
      return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }

  private update(): void {
    const before = this.input.value.slice(0, this.input.selectionStart ?? undefined);
    const match = MENTION_AT_CARET.exec(before);
    if (!match) return this.close();
    const query = match[2]!.toLowerCase();
    this.start = before.length - query.length - 1;
    this.options = this.members()
      .filter((user) => user.username.startsWith(query) || user.displayName.toLowerCase().split(/\s+/).some((word) => word.startsWith(query)))
      .slice(0, MAX_OPTIONS);
    if (this.options.length === 0) return this.close();
    this.active = 0;
    this.element.hidden = false;
    this.render();
  }

  private render(): void {
    setChildren(
      this.element,
      ...this.options.map((user, index) => {
        const option = el(
          'li',
          {
            class: 'mention-option',
            testid: 'mention-option',
            attrs: { id: `mention-option-${index}`, role: 'option', 'aria-selected': String(index === this.active) },
          },
          avatar(user.id, user.displayName),
          el('span', { class: 'name', attrs: { dir: 'auto' } }, user.displayName),
          el('span', { class: 'username muted' }, `@${user.username}`),
        );
        // mousedown, not click: the textarea keeps its focus (blur would close the list first).
        option.addEventListener('mousedown', (event) => {
          event.preventDefault();
          this.insert(user);
        });
        return option;
      }),
    );
    setAttr(this.input, 'aria-activedescendant', `mention-option-${this.active}`);
  }

  private insert(user: User): void {
    const { value, selectionStart } = this.input;
    const text = `@${user.username} `;
    this.input.value = value.slice(0, this.start) + text + value.slice(selectionStart ?? value.length);
    const caret = this.start + text.length;
    this.input.setSelectionRange(caret, caret);
    this.close();
    this.input.dispatchEvent(new Event('input'));
  }

  private close(): void {
    this.element.hidden = true;
    setAttr(this.input, 'aria-activedescendant', null);
  }
}
