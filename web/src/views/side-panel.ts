import { el } from '../dom.js';

/** What a panel beside the conversation shows; `destroy` stops its live updates. */
export interface PanelContent {
  title: string;
  testid: string;
  body: HTMLElement;
  destroy?: () => void;
}

/**
 * A panel beside the open conversation (full screen on a phone): a thread, the pins, the group's
 * details. Opening one moves focus into it; Close or Escape closes it and gives focus back to
 * the button that opened it.
 */
export class SidePanel {
  readonly element = el('div', { class: 'side-panel-slot' });
  private current: { content: PanelContent; opener: HTMLElement | null } | undefined;

  get openTestid(): string | undefined {
    return this.current?.content.testid;
  }

  open(content: PanelContent, opener: HTMLElement | null): void {
    this.close(false);
    const heading = el('h2', { class: 'side-panel-title', attrs: { id: 'side-panel-title', tabindex: -1, dir: 'auto' } }, content.title);
    const panel = el(
      'section',
      { class: 'side-panel', testid: content.testid, attrs: { 'aria-labelledby': 'side-panel-title' } },
      el(
        'header',
        { class: 'side-panel-header' },
        heading,
        el('button', { class: 'side-panel-close', testid: 'close-panel', attrs: { type: 'button', 'aria-label': 'Close panel' }, on: { click: () => this.close(true) } }, '✕'),
      ),
      content.body,
    );
    panel.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || event.defaultPrevented) return;
      event.preventDefault();
      this.close(true);
    });
    this.current = { content, opener };
    this.element.replaceChildren(panel);
    this.element.classList.add('open');
    heading.focus();
  }

  close(returnFocus: boolean): void {
    if (!this.current) return;
    const { content, opener } = this.current;
    this.current = undefined;
    content.destroy?.();
    this.element.replaceChildren();
    this.element.classList.remove('open');
    if (returnFocus && opener?.isConnected) opener.focus();
  }
}
