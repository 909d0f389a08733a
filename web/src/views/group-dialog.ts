import type { Conversation, ParleyApi, User } from '@parley/client';
import { errorText } from '../errors.js';
import { el, setChildren } from '../dom.js';
import type { PresenceStore } from '../presence.js';
import { peopleSearch } from './people-search.js';
import { presenceDot } from './presence-dot.js';

interface GroupDialogOptions {
  api: ParleyApi;
  /** Absent: create a new group. Present: add people to this one. */
  conversation?: Conversation;
  presence: PresenceStore;
  onSeen: (user: User) => void;
  onDone: (conversation: Conversation) => void;
}

/**
 * A modal <dialog> (focus stays inside, Escape closes) to create a group or add people to one.
 * Removes itself from the page when closed.
 */
export function openGroupDialog(options: GroupDialogOptions): void {
  const adding = options.conversation;
  const chosen = new Map<string, User>();
  const chips = el('ul', { class: 'chips', attrs: { 'aria-label': 'Chosen people' } });
  const error = el('p', { class: 'form-error', attrs: { role: 'alert' } });
  const title = el('input', {
    testid: 'group-title',
    attrs: { id: 'group-title', name: 'title', maxlength: 200, autocomplete: 'off', required: true },
  });
  const search = peopleSearch({
    api: options.api,
    label: 'Add people',
    testid: 'member-search',
    exclude: () => new Set([...chosen.keys(), ...(adding?.memberIds ?? [])]),
    onPick: (user) => {
      chosen.set(user.id, user);
      renderChips();
    },
    onSeen: options.onSeen,
    decorate: (user) => presenceDot(options.presence, user.id),
  });
  const submit = el('button', { class: 'primary', testid: 'group-submit', attrs: { type: 'submit' } }, adding ? 'Add' : 'Create group');
  const cancel = el('button', { attrs: { type: 'button' }, on: { click: () => dialog.close() } }, 'Cancel');

  function renderChips(): void {
    setChildren(
      chips,
      ...[...chosen.values()].map((user) =>
        el(
          'li',
          { class: 'chip' },
          user.displayName || user.username,
          presenceDot(options.presence, user.id),
          el(
            'button',
            {
              class: 'chip-remove',
              attrs: { type: 'button', 'aria-label': `Remove ${user.displayName || user.username}` },
              on: {
                click: () => {
                  chosen.delete(user.id);
                  renderChips();
                  search.input.focus();
                },
              },
            },
            '×',
          ),
        ),
      ),
    );
    if (chosen.size === 0) chips.append(el('li', { class: 'muted' }, adding ? 'Nobody chosen yet.' : 'Just you, so far.'));
  }

  const form = el(
    'form',
    { attrs: { novalidate: true } },
    el('h2', {}, adding ? 'Add people' : 'New group'),
    adding ? null : el('label', { attrs: { for: 'group-title' } }, 'Group name'),
    adding ? null : title,
    search.element,
    chips,
    error,
    el('div', { class: 'dialog-actions' }, cancel, submit),
  );
  const dialog = el('dialog', { class: 'dialog', attrs: { 'aria-label': adding ? 'Add people' : 'New group' } }, form);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      error.textContent = '';
      if (!adding && !title.value.trim()) {
        error.textContent = 'Give the group a name.';
        title.focus();
        return;
      }
      if (adding && chosen.size === 0) {
        error.textContent = 'Choose someone to add.';
        search.input.focus();
        return;
      }
      submit.disabled = true;
      try {
        const ids = [...chosen.keys()];
        const conversation = adding
          ? await options.api.addMembers(adding.id, ids)
          : await options.api.createGroup(title.value.trim(), ids);
        dialog.close();
        options.onDone(conversation);
      } catch (failure) {
        error.textContent = errorText(failure, 'Something went wrong.');
        submit.disabled = false;
      }
    })();
  });
  dialog.addEventListener('close', () => dialog.remove());

  renderChips();
  document.body.append(dialog);
  dialog.showModal();
  (adding ? search.input : title).focus();
}
