/**
 * A message body as nodes: text nodes for the text, `<a>` for http(s) links and `<span>` for
 * mentions of members. Nothing is parsed as markup; a link's text is a text node too.
 */

/** Links end before trailing punctuation that usually closes the sentence around them. */
const TOKEN = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'}]|@[A-Za-z0-9_.-]*[A-Za-z0-9_]/g;

export interface MentionTargets {
  /** Lower-cased usernames of members mentioned in this body. */
  usernames: ReadonlySet<string>;
  /** The caller's username, lower-cased: its mentions are shown stronger. */
  mine: string;
}

export function richBody(body: string, mentions: MentionTargets): Node[] {
  const nodes: Node[] = [];
  let last = 0;
  for (const match of body.matchAll(TOKEN)) {
    const token = match[0];
    const node = token.startsWith('@') ? mentionNode(token, mentions) : linkNode(token);
    if (!node) continue;
    if (match.index > last) nodes.push(document.createTextNode(body.slice(last, match.index)));
    nodes.push(node);
    last = match.index + token.length;
  }
  if (last < body.length) nodes.push(document.createTextNode(body.slice(last)));
  return nodes;
}

function mentionNode(token: string, mentions: MentionTargets): HTMLElement | null {
  const username = token.slice(1).toLowerCase();
  if (!mentions.usernames.has(username)) return null;
  const span = document.createElement('span');
  span.className = username === mentions.mine ? 'mention mention-me' : 'mention';
  span.textContent = token;
  return span;
}

function linkNode(href: string): HTMLAnchorElement | null {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const link = document.createElement('a');
  link.href = url.href;
  link.target = '_blank';
  link.rel = 'noopener noreferrer';
  link.textContent = href;
  return link;
}
