/**
 * A few DOM helpers. Every piece of data reaches the page as a text node or an attribute value,
 * never as markup: nothing here parses HTML, so a message body or a name cannot inject any.
 */

type Child = Node | string | number | null | undefined | false;

interface Props {
  class?: string;
  /** The `data-testid` hook; part of the page's contract for end-to-end tests. */
  testid?: string;
  /** Attributes, set with setAttribute (values are never parsed as markup). */
  attrs?: Record<string, string | number | boolean | null | undefined>;
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class) element.className = props.class;
  if (props.testid) element.dataset.testid = props.testid;
  for (const [name, value] of Object.entries(props.attrs ?? {})) setAttr(element, name, value);
  for (const [type, handler] of Object.entries(props.on ?? {})) {
    element.addEventListener(type, handler as EventListener);
  }
  element.append(...nodes(children));
  return element;
}

/** Sets, or with null/undefined/false removes, an attribute; `true` sets it empty. */
export function setAttr(element: Element, name: string, value: string | number | boolean | null | undefined): void {
  if (value === null || value === undefined || value === false) element.removeAttribute(name);
  else element.setAttribute(name, value === true ? '' : String(value));
}

/** Replaces an element's children; strings become text nodes. */
export function setChildren(element: Element, ...children: Child[]): void {
  element.replaceChildren(...nodes(children));
}

function nodes(children: Child[]): Node[] {
  const out: Node[] = [];
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    out.push(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
  return out;
}

/**
 * Puts `elements` into `container` in this order, moving only those out of place and removing
 * the rest. Moving a node drops its focus, so a moved node that held focus gets it back.
 */
export function reconcile(container: Element, elements: Element[]): void {
  const focused = document.activeElement;
  const keep = new Set(elements);
  for (const child of Array.from(container.children)) if (!keep.has(child)) child.remove();
  elements.forEach((element, index) => {
    const current = container.children[index];
    if (current !== element) container.insertBefore(element, current ?? null);
  });
  if (focused instanceof HTMLElement && focused !== document.activeElement && focused.isConnected) {
    focused.focus({ preventScroll: true });
  }
}

/** Short, local time for a message; the full date and time go in the title. */
export function formatTime(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** Today: the time; this week: the weekday; else the date. For the conversation list. */
export function formatActivity(iso: string, now = new Date()): string {
  const date = new Date(iso);
  if (date.toDateString() === now.toDateString()) return formatTime(iso);
  const days = (now.getTime() - date.getTime()) / 86_400_000;
  if (days < 6) return date.toLocaleDateString(undefined, { weekday: 'short' });
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: days > 300 ? 'numeric' : undefined });
}

export function formatFull(iso: string): string {
  return new Date(iso).toLocaleString();
}
