import { el } from '../dom.js';
import { pushSupported, type PushNotifications } from '../push-notifications.js';

const DISMISSED_KEY = 'parley.notifications-hint-dismissed';

function dismissed(): boolean {
  try {
    return localStorage.getItem(DISMISSED_KEY) !== null;
  } catch {
    return true;
  }
}

/**
 * One quiet offer of notifications, shown after the user has sent a message (someone they wrote
 * to may answer while Parley is closed), and only while the browser has not been asked. "Not
 * now" hides it for good; "Turn on" asks, as the settings switch does.
 */
export class NotificationsHint {
  readonly element: HTMLElement;
  private readonly text = el('p', { class: 'notifications-hint-text' }, 'Get a notification when someone answers while Parley is closed?');

  constructor(private readonly push: PushNotifications) {
    const turnOn = el('button', { class: 'primary', testid: 'notifications-hint-on', attrs: { type: 'button' } }, 'Turn on');
    const notNow = el('button', { testid: 'notifications-hint-dismiss', attrs: { type: 'button' } }, 'Not now');
    this.element = el(
      'section',
      { class: 'notifications-hint', testid: 'notifications-hint', attrs: { 'aria-label': 'Notifications' } },
      this.text,
      el('div', { class: 'notifications-hint-actions' }, turnOn, notNow),
    );
    this.element.hidden = true;
    notNow.addEventListener('click', () => this.dismiss());
    turnOn.addEventListener('click', () => {
      turnOn.disabled = true;
      void this.push.enable().then((state) => {
        if (state === 'on') this.dismiss();
        else {
          turnOn.disabled = false;
          this.text.textContent = state === 'blocked' ? 'Notifications are blocked by your browser: Settings says how to allow them.' : 'Could not turn notifications on. Try again from Settings.';
        }
      });
    });
  }

  /** After a message was sent: shows the offer if it still applies. */
  async offer(): Promise<void> {
    if (!this.element.hidden || dismissed() || !pushSupported() || Notification.permission !== 'default') return;
    if ((await this.push.state()) === 'off') this.element.hidden = false;
  }

  private dismiss(): void {
    this.element.hidden = true;
    try {
      localStorage.setItem(DISMISSED_KEY, '1');
    } catch {
      // Storage unavailable: it is offered again after a reload.
    }
  }
}
