import type { Conversation, ParleyApi, User } from '@parley/client';
import type { ConversationStore } from '../conversations.js';
import { el, setChildren } from '../dom.js';
import { errorText } from '../errors.js';
import { avatar, usernameSuffix } from '../identity.js';
import type { UserDirectory } from '../users.js';
import { muteToggle } from './mute-toggle.js';
import type { PanelContent } from './side-panel.js';

export interface GroupInfoOptions {
  api: ParleyApi;
  me: User;
  conversationId: string;
  conversations: ConversationStore;
  users: UserDirectory;
}

/**
 * A conversation's details: muting its notifications and, for a group, its name (the owner
 * renames it), its members (the owner removes them), and Leave. Members see each change as a
 * system message in the conversation; this panel follows the conversation list, which re-reads
 * the group on every change.
 */
export function groupInfoPanel({ api, me, conversationId, conversations, users }: GroupInfoOptions): PanelContent {
  const status = el('p', { class: 'form-error', attrs: { role: 'alert' } });
  const titleInput = el('input', { testid: 'group-rename-input', attrs: { id: 'group-rename', maxlength: 200, autocomplete: 'off' } });
  const renameForm = el(
    'form',
    { class: 'panel-form' },
    el('label', { attrs: { for: 'group-rename' } }, 'Group name'),
    el('div', { class: 'panel-row' }, titleInput, el('button', { testid: 'group-rename', attrs: { type: 'submit' } }, 'Rename')),
  );
  const members = el('ul', { class: 'panel-list members', attrs: { 'aria-labelledby': 'members-title' } });
  const membersTitle = el('h3', { attrs: { id: 'members-title' } }, 'Members');
  const mute = muteToggle(api, conversationId, conversations);
  const isGroup = conversations.get(conversationId)?.type === 'group';
  const leaveButton = el('button', { class: 'danger', testid: 'leave-group', attrs: { type: 'button' } }, 'Leave group');

  const run = async (action: () => Promise<unknown>): Promise<void> => {
    status.textContent = '';
    try {
      await action();
      conversations.refresh(conversationId);
    } catch (error) {
      status.textContent = errorText(error);
    }
  };

  renameForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const title = titleInput.value.trim();
    if (!title) {
      status.textContent = 'A group needs a name.';
      return;
    }
    void run(async () => conversations.put(await api.renameGroup(conversationId, title)));
  });
  let confirmingLeave = false;
  leaveButton.addEventListener('click', () => {
    if (!confirmingLeave) {
      confirmingLeave = true;
      leaveButton.textContent = 'Leave: are you sure?';
      return;
    }
    void run(() => api.removeMember(conversationId, me.id));
  });

  function render(): void {
    const conversation = conversations.get(conversationId);
    if (!conversation) return;
    mute.render();
    if (conversation.type !== 'group') return;
    const owner = conversation.ownerId === me.id;
    renameForm.hidden = !owner;
    if (document.activeElement !== titleInput) titleInput.value = conversation.title ?? '';
    membersTitle.textContent = `Members (${conversation.memberIds.length})`;
    setChildren(members, ...sortedMembers(conversation).map((id) => memberItem(conversation, id, owner)));
  }

  function sortedMembers(conversation: Conversation): string[] {
    return [...conversation.memberIds].sort((a, b) => Number(b === conversation.ownerId) - Number(a === conversation.ownerId) || users.name(a).localeCompare(users.name(b)));
  }

  function memberItem(conversation: Conversation, id: string, owner: boolean): HTMLLIElement {
    const name = users.name(id);
    return el(
      'li',
      { class: 'member', testid: 'member' },
      avatar(id, name),
      el('span', { class: 'member-name' }, el('span', { class: 'name', attrs: { dir: 'auto' } }, id === me.id ? `${name} (you)` : name), usernameSuffix(name, users.username(id))),
      id === conversation.ownerId ? el('span', { class: 'muted member-role' }, 'Owner') : null,
      owner && id !== me.id
        ? el(
            'button',
            { testid: 'remove-member', attrs: { type: 'button', 'aria-label': `Remove ${name}` }, on: { click: () => void run(() => api.removeMember(conversationId, id)) } },
            'Remove',
          )
        : null,
    );
  }

  const unsubscribe = [conversations.changed.subscribe(render), users.changed.subscribe(render)];
  render();
  return {
    title: isGroup ? 'Group info' : 'Conversation info',
    testid: 'group-info',
    body: isGroup
      ? el('div', { class: 'side-panel-body' }, mute.element, renameForm, membersTitle, members, status, leaveButton)
      : el('div', { class: 'side-panel-body' }, mute.element),
    destroy: () => unsubscribe.forEach((off) => off()),
  };
}
