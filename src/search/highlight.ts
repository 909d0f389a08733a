/**
 * `highlight`: a message body as HTML, everything in it escaped and the words that matched
 * wrapped in `<mark>`. PostgreSQL's ts_headline finds the matches and marks them with two
 * characters no stored body can hold (the direction isolates U+2066 and U+2069, refused by the
 * text rules); the body is then escaped piece by piece here, so whatever it holds (`<script>`,
 * `<mark>`, `&amp;`) shows as text and only these marks are markup.
 */
export const MATCH_START = '\u2066';
export const MATCH_END = '\u2069';

/** ts_headline's options: the whole body (not an excerpt), each match between the two marks. */
export const HEADLINE_OPTIONS = `HighlightAll=true, StartSel="${MATCH_START}", StopSel="${MATCH_END}"`;

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ENTITIES[char]);
}

/** ts_headline's text (matches between MATCH_START and MATCH_END) as escaped HTML with `<mark>`s. */
export function toHighlight(marked: string): string {
  let html = '';
  let inMatch = false;
  for (const piece of marked.split(/([\u2066\u2069])/u)) {
    if (piece === MATCH_START) inMatch = true;
    else if (piece === MATCH_END) inMatch = false;
    else if (piece) html += inMatch ? `<mark>${escapeHtml(piece)}</mark>` : escapeHtml(piece);
  }
  return html;
}
