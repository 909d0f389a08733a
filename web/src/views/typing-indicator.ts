import { el } from '../dom.js';
import type { Typing } from '../typing.js';
import type { UserDirectory } from '../users.js';

/** "Alice is typing…", "Alice and Bob are typing…", "Several people are typing…", or nothing. */
export function typingText(names: string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return 'Several people are typing…';
}

/**
 * The line under a conversation's log that says who is typing. It keeps its height when empty,
 * so the log does not jump each time someone starts or stops. A polite live region: screen
 * readers announce it between other speech.
 */
export class TypingIndicator {
  readonly element = el('p', { class: 'typing-indicator muted', testid: 'typing-indicator', attrs: { 'aria-live': 'polite' } });
  private readonly unsubscribe: Array<() => void>;

  constructor(
    private readonly conversationId: string,
    private readonly typing: Typing,
    private readonly users: UserDirectory,
  ) {
    this.unsubscribe = [
      typing.changed.subscribe((id) => {
        if (id === conversationId) this.render();
      }),
      users.changed.subscribe(() => this.render()),
    ];
    this.render();
  }

  destroy(): void {
    for (const off of this.unsubscribe) off();
  }

  private render(): void {
    const text = typingText(this.typing.who(this.conversationId).map((id) => this.users.name(id)));
    // Set only when it changes: a live region may repeat a text written again.
    if (this.element.textContent !== text) this.element.textContent = text;
  }
}
