import type { ParleyApi } from '@parley/client';
import type { ConversationStore } from '../conversations.js';
import { el } from '../dom.js';
import { errorText } from '../errors.js';

/**
 * "Mute notifications" for one conversation (the caller's own setting): a muted conversation
 * sends the caller no Web Push notifications. It follows the conversation list.
 */
export function muteToggle(api: ParleyApi, conversationId: string, conversations: ConversationStore): { element: HTMLElement; render: () => void } {
  const input = el('input', { testid: 'mute-toggle', attrs: { id: 'mute-toggle', type: 'checkbox', role: 'switch', 'aria-describedby': 'mute-hint' } });
  const error = el('p', { class: 'form-error', attrs: { role: 'alert' } });
  input.addEventListener('change', () => {
    const muted = input.checked;
    input.disabled = true;
    error.textContent = '';
    api.updateConversationSettings(conversationId, { muted }).then(
      (conversation) => conversations.put(conversation),
      (failure: unknown) => {
        input.checked = !muted;
        error.textContent = errorText(failure, 'Could not change this. Try again.');
      },
    ).finally(() => (input.disabled = false));
  });
  const render = () => {
    if (!input.disabled) input.checked = conversations.get(conversationId)?.muted === true;
  };
  render();
  const element = el(
    'div',
    { class: 'mute-setting' },
    el('div', { class: 'toggle' }, input, el('label', { attrs: { for: 'mute-toggle' } }, 'Mute notifications')),
    el('p', { class: 'hint muted', attrs: { id: 'mute-hint' } }, 'No notifications of this conversation on your devices while Parley is closed.'),
    error,
  );
  return { element, render };
}
