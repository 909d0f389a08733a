import type { ParleyApi, Self } from '@parley/client';
import { el } from '../dom.js';
import { errorText } from '../errors.js';
import type { PushNotifications, PushState } from '../push-notifications.js';

export interface SettingsOptions {
  api: ParleyApi;
  push: PushNotifications;
  /** Told of the saved user, so names on the page follow. */
  onSaved: (user: Self) => void;
  /** Where focus returns when it closes. */
  opener: HTMLElement;
}

/** What each state of Web Push says under the switch. */
const PUSH_HINTS: Record<PushState, string> = {
  on: 'On: messages that arrive while Parley is closed show as notifications on this device.',
  off: 'Off. Turn on to get a notification for messages while Parley is closed.',
  blocked:
    'Blocked by your browser. To allow them, open the site settings (the icon left of the address), set Notifications to Allow, then reload.',
  unsupported: 'Not available here: this browser, or an address without https, does not support web notifications.',
  failed: 'Could not reach your browser’s push service. Try again later.',
};

/**
 * The caller's settings in a modal <dialog> (focus stays inside, Escape closes): the display
 * name (saved with its button), the privacy switches (saved as they change), and notifications
 * on this device (the browser asks permission only when the switch is turned on).
 */
export function openSettings({ api, push, onSaved, opener }: SettingsOptions): void {
  const status = el('p', { class: 'settings-status muted', testid: 'settings-status', attrs: { role: 'status' } });
  const error = el('p', { class: 'form-error', attrs: { role: 'alert' } });
  const name = el('input', { testid: 'display-name', attrs: { id: 'settings-name', maxlength: 64, autocomplete: 'nickname', dir: 'auto' } });
  const receipts = el('input', { testid: 'share-read-receipts', attrs: { id: 'settings-receipts', type: 'checkbox', 'aria-describedby': 'settings-receipts-hint' } });
  const presence = el('input', { testid: 'share-presence', attrs: { id: 'settings-presence', type: 'checkbox', 'aria-describedby': 'settings-presence-hint' } });
  const notifications = el('input', {
    testid: 'notifications-switch',
    attrs: { id: 'settings-notifications', type: 'checkbox', role: 'switch', 'aria-describedby': 'settings-notifications-hint' },
  });
  const notificationsHint = el('p', { class: 'hint muted', testid: 'notifications-state', attrs: { id: 'settings-notifications-hint' } });
  const saveName = el('button', { testid: 'save-name', attrs: { type: 'submit' } }, 'Save name');
  const close = el('button', { class: 'primary', testid: 'close-settings', attrs: { type: 'button' }, on: { click: () => dialog.close() } }, 'Done');
  for (const input of [name, receipts, presence, saveName]) input.disabled = true;

  const form = el(
    'form',
    { attrs: { novalidate: true } },
    el('h2', {}, 'Settings'),
    el('label', { attrs: { for: 'settings-name' } }, 'Display name'),
    el('div', { class: 'panel-row' }, name, saveName),
    el('fieldset', { class: 'settings-privacy' },
      el('legend', {}, 'Privacy'),
      el('div', { class: 'toggle' }, receipts, el('label', { attrs: { for: 'settings-receipts' } }, 'Share read receipts')),
      el('p', { class: 'hint muted', attrs: { id: 'settings-receipts-hint' } }, 'Others see when you have read their messages. Off: they do not, and you still see theirs.'),
      el('div', { class: 'toggle' }, presence, el('label', { attrs: { for: 'settings-presence' } }, 'Show when I am online')),
      el('p', { class: 'hint muted', attrs: { id: 'settings-presence-hint' } }, 'Off: you always appear offline.'),
    ),
    el('fieldset', { class: 'settings-privacy' },
      el('legend', {}, 'Notifications'),
      el('div', { class: 'toggle' }, notifications, el('label', { attrs: { for: 'settings-notifications' } }, 'Notifications on this device')),
      notificationsHint,
    ),
    error,
    status,
    el('div', { class: 'dialog-actions' }, close),
  );
  const dialog = el('dialog', { class: 'dialog', testid: 'settings', attrs: { 'aria-label': 'Settings' } }, form);

  async function save(changes: Parameters<ParleyApi['updateMe']>[0], done: string): Promise<void> {
    error.textContent = status.textContent = '';
    try {
      const user = await api.updateMe(changes);
      onSaved(user);
      show(user);
      status.textContent = done;
    } catch (failure) {
      error.textContent = errorText(failure, 'Could not save. Try again.');
    }
  }

  function show(user: Self): void {
    name.value = user.displayName;
    receipts.checked = user.shareReadReceipts;
    presence.checked = user.sharePresence;
    for (const input of [name, receipts, presence, saveName]) input.disabled = false;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const displayName = name.value.trim();
    if (!displayName) {
      error.textContent = 'A display name cannot be empty.';
      name.focus();
      return;
    }
    void save({ displayName }, 'Name saved.');
  });
  receipts.addEventListener('change', () => void save({ shareReadReceipts: receipts.checked }, receipts.checked ? 'Read receipts on.' : 'Read receipts off.'));
  presence.addEventListener('change', () => void save({ sharePresence: presence.checked }, presence.checked ? 'Online status shown.' : 'Online status hidden.'));
  function showPush(state: PushState): void {
    notifications.checked = state === 'on';
    notifications.disabled = state === 'blocked' || state === 'unsupported';
    notificationsHint.textContent = PUSH_HINTS[state];
    notificationsHint.dataset.state = state;
  }

  notifications.disabled = true;
  notifications.addEventListener('change', () => {
    const turnOn = notifications.checked;
    notifications.disabled = true;
    error.textContent = status.textContent = '';
    const done = turnOn ? push.enable() : push.disable().then((): PushState => 'off');
    done.then(
      (state) => {
        showPush(state);
        if (state === 'on' || state === 'off') status.textContent = state === 'on' ? 'Notifications on.' : 'Notifications off.';
      },
      (failure: unknown) => {
        error.textContent = errorText(failure, 'Could not turn notifications off. Try again.');
        void push.state().then(showPush);
      },
    );
  });
  void push.state().then(showPush);

  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener.isConnected) opener.focus();
  });

  document.body.append(dialog);
  dialog.showModal();
  api.me().then(
    (user) => {
      show(user);
      name.focus();
    },
    (failure: unknown) => (error.textContent = errorText(failure, 'Could not load your settings.')),
  );
}
