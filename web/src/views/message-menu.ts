import { el } from '../dom.js';

/** The reactions offered in a message's menu; any other emoji can still arrive from other clients. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🎉', '🙏', '👀'] as const;

export interface MenuItem {
  label: string;
  testid: string;
  run: () => void;
  danger?: boolean;
}

export interface MessageMenuOptions {
  /** Emoji the caller has reacted with: checked in the picker, and a second press removes them. */
  reacted: ReadonlySet<string>;
  react: (emoji: string, reacted: boolean) => void;
  items: MenuItem[];
}

let openMenu: { close: (returnFocus: boolean) => void } | undefined;

/**
 * Opens a message's menu under its trigger: a row of reactions, then the actions. Arrow keys
 * move through the items, Escape closes and returns focus to the trigger, as does picking one;
 * a click elsewhere or Tab closes it. One menu is open at a time.
 */
export function showMessageMenu(trigger: HTMLButtonElement, host: HTMLElement, options: MessageMenuOptions): void {
  openMenu?.close(false);
  const choose = (action: () => void) => () => {
    close(true);
    action();
  };
  const reactions = QUICK_REACTIONS.map((emoji) => {
    const reacted = options.reacted.has(emoji);
    return el(
      'button',
      {
        class: 'menu-emoji',
        attrs: { type: 'button', role: 'menuitemcheckbox', 'aria-checked': String(reacted), 'aria-label': `React ${emoji}`, tabindex: -1 },
        on: { click: choose(() => options.react(emoji, reacted)) },
      },
      emoji,
    );
  });
  const actions = options.items.map((item) =>
    el(
      'button',
      {
        class: item.danger ? 'menu-item danger' : 'menu-item',
        testid: item.testid,
        attrs: { type: 'button', role: 'menuitem', tabindex: -1 },
        on: { click: choose(item.run) },
      },
      item.label,
    ),
  );
  const menu = el(
    'div',
    { class: 'message-menu', testid: 'message-menu', attrs: { role: 'menu', 'aria-label': 'Message actions' } },
    el('div', { class: 'menu-emoji-row', attrs: { role: 'group', 'aria-label': 'React' } }, ...reactions),
    ...actions,
  );
  const items = [...reactions, ...actions];

  function close(returnFocus: boolean): void {
    if (!menu.isConnected) return;
    menu.remove();
    trigger.setAttribute('aria-expanded', 'false');
    host.classList.remove('menu-open');
    document.removeEventListener('pointerdown', onOutside, true);
    if (openMenu?.close === close) openMenu = undefined;
    if (returnFocus && trigger.isConnected) trigger.focus();
  }
  function onOutside(event: PointerEvent): void {
    if (!menu.contains(event.target as Node) && event.target !== trigger) close(false);
  }
  menu.addEventListener('keydown', (event) => {
    const index = items.indexOf(document.activeElement as HTMLButtonElement);
    const move = (to: number) => items[(to + items.length) % items.length]!.focus();
    if (event.key === 'ArrowDown' || event.key === 'ArrowRight') move(index + 1);
    else if (event.key === 'ArrowUp' || event.key === 'ArrowLeft') move(index - 1);
    else if (event.key === 'Home') move(0);
    else if (event.key === 'End') move(items.length - 1);
    else if (event.key === 'Escape') close(true);
    else if (event.key === 'Tab') return close(false);
    else return;
    event.preventDefault();
    event.stopPropagation();
  });

  host.append(menu);
  // Near the bottom of the scrolling log, the menu opens upwards so that it is not cut off.
  const frame = host.closest('[role="log"]')?.getBoundingClientRect();
  if (frame && menu.getBoundingClientRect().bottom > frame.bottom) menu.classList.add('above');
  host.classList.add('menu-open');
  trigger.setAttribute('aria-expanded', 'true');
  document.addEventListener('pointerdown', onOutside, true);
  openMenu = { close };
  (actions[0] ?? reactions[0])!.focus();
}

/** Closes the open menu, if any (its message is about to be redrawn). */
export function closeMessageMenu(): void {
  openMenu?.close(false);
}
