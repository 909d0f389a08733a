import { el } from './dom.js';

/**
 * A user's colour: a hue from a hash of the id, so it stays the same on every page and device
 * and does not change with a rename. The hash is mixed well (FNV-1a, then an avalanche step)
 * because ids are sequential numbers: "12" and "13" must not get neighbouring hues. Dark
 * enough for white initials to stay readable (at least 5:1 on every hue).
 */
export function avatarColour(id: string): string {
  let hash = 0x811c9dc5;
  for (const char of id) hash = Math.imul(hash ^ char.codePointAt(0)!, 0x01000193);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  hash ^= hash >>> 16;
  return `hsl(${(hash >>> 0) % 360} 55% 28%)`;
}

/** The first letter or digit of a name, upper-cased. */
export function initial(name: string): string {
  const letter = Array.from(name.trim()).find((c) => /\p{L}|\p{N}/u.test(c));
  return (letter ?? '?').toUpperCase();
}

/** A round avatar: the initial on the user's colour. Decorative: the name is always beside it. */
export function avatar(id: string, name: string, className = 'avatar'): HTMLElement {
  const element = el('span', { class: className, attrs: { 'aria-hidden': 'true' } }, initial(name));
  element.style.backgroundColor = avatarColour(id);
  return element;
}

/** `@username` after a name, unless the name already is the username. */
export function usernameSuffix(name: string, username: string | undefined): HTMLElement | null {
  if (!username || name.toLowerCase() === username.toLowerCase()) return null;
  return el('span', { class: 'username muted', attrs: { dir: 'ltr' } }, `@${username}`);
}
