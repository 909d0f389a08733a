/**
 * `@username` in a body. Usernames are 3–32 of `a-z 0-9 _ . -` (case-insensitive), so a
 * mention is `@` and such a run, not inside a word or an address (`bob@example.org` names
 * nobody) and not cut out of a longer run. Which tokens name members is the database's to say
 * (`mentioned_members` in the message-features migration): it also tries each token without
 * trailing dots and hyphens, the end of a sentence ("thanks @bob.").
 */
const MENTION = /(?<![\p{L}\p{N}\p{M}_.@-])@([a-z0-9_.-]{3,32})(?![a-z0-9_.-])/giu;

/** More names than anyone types into one message; a body cannot make the send statement work harder than this. */
const MAX_MENTIONS = 50;

/** The body's `@username` tokens, lower-cased, once each, separated by spaces; null when there are none. */
export function mentionTokens(body: string): string | null {
  if (!body.includes('@')) return null;
  const tokens = new Set<string>();
  for (const match of body.matchAll(MENTION)) {
    tokens.add(match[1].toLowerCase());
    if (tokens.size === MAX_MENTIONS) break;
  }
  return tokens.size > 0 ? [...tokens].join(' ') : null;
}
