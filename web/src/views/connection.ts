import { el } from '../dom.js';
import type { ConnectionStatus } from '@parley/client';

/**
 * The connection state: `connecting`, `online` or `offline` in the `connection-state` element
 * (a single word, for tests and screen readers), with the retry countdown beside it.
 */
export class ConnectionIndicator {
  readonly element: HTMLElement;
  // Only the state word is a live region: the countdown beside it would be read out every second.
  private readonly state = el('span', { testid: 'connection-state', class: 'connection-state', attrs: { role: 'status' } }, 'connecting');
  private readonly detail = el('span', { class: 'connection-detail muted' });
  private readonly retry: HTMLButtonElement;
  private status: ConnectionStatus = { state: 'connecting' };
  private ticker: number | undefined;

  constructor(retryNow: () => void) {
    this.retry = el('button', { class: 'link', attrs: { type: 'button', hidden: true }, on: { click: retryNow } }, 'Retry now');
    this.element = el(
      'div',
      { class: 'connection' },
      el('span', { class: 'connection-dot', attrs: { 'aria-hidden': 'true' } }),
      this.state,
      this.detail,
      this.retry,
    );
    this.update({ state: 'connecting' });
  }

  update(status: ConnectionStatus): void {
    this.status = status;
    this.element.dataset.state = status.state;
    this.state.textContent = status.state;
    window.clearInterval(this.ticker);
    this.ticker = status.retryAt ? window.setInterval(() => this.renderDetail(), 1000) : undefined;
    this.renderDetail();
  }

  destroy(): void {
    window.clearInterval(this.ticker);
  }

  private renderDetail(): void {
    const { state, retryAt, waitingForNetwork } = this.status;
    let detail = '';
    if (state === 'offline') {
      if (waitingForNetwork) detail = 'no network';
      else if (retryAt) detail = `retrying in ${Math.max(1, Math.ceil((retryAt - Date.now()) / 1000))} s`;
    }
    this.detail.textContent = detail;
    this.retry.hidden = !(state === 'offline' && retryAt && !waitingForNetwork);
  }
}
