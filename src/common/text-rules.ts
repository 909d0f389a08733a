/**
 * What free text (a message body, a display name, a group title) may hold: the one rule set,
 * applied by the `FreeText` decorator (src/common/validation.ts) and by the send path's
 * hand-written check (SendMessageDto.fromBody), which both call `textProblem`.
 *
 * - Every string the API takes, free text or not, must be well-formed UTF-16: an unpaired
 *   surrogate cannot be stored (it became U+FFFD on its way to PostgreSQL, silently), so it is
 *   refused before validation (assertWithinInputLimits), like NUL.
 * - No text-direction overrides, embeddings or isolates (U+202A–U+202E, U+2066–U+2069), with
 *   which text displays as something else ("Trojan Source"; `admin\u202Etxt.exe`). Arabic,
 *   Hebrew and mixed text need none of them; the invisible marks LRM, RLM and ALM stay allowed.
 * - Something to see: text of only spaces, controls and characters that show as nothing
 *   (zero-width space, joiners, word joiner, Hangul filler, variation selectors: Unicode's
 *   default-ignorable code points) is blank. Joiners inside emoji sequences are fine.
 * - A line (names, titles) is one line shown among others: no control characters (line
 *   breaks, tabs, terminal escapes) and no line or paragraph separators (U+2028, U+2029).
 *   A body may hold several lines and tabs.
 */
export type TextKind = 'line' | 'body';

/** Under the u flag a surrogate pair is one code point, so only an unpaired half matches. */
const LONE_SURROGATE = /\p{Cs}/u;
const DIRECTION_CONTROL = /[\u202A-\u202E\u2066-\u2069]/u;
const LINE_FORBIDDEN = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;
const VISIBLE = /[^\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cc}]/u;

export const LONE_SURROGATE_MESSAGE = 'Text must not contain unpaired surrogates (U+D800–U+DFFF alone); send well-formed UTF-8 or UTF-16';

export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/**
 * Why `text` is not acceptable free text of this kind, as the end of a sentence that begins
 * with the field's name ("must not be blank"), or undefined when it is.
 */
export function textProblem(text: string, kind: TextKind): string | undefined {
  if (hasLoneSurrogate(text)) return 'must not contain unpaired surrogates';
  if (!VISIBLE.test(text)) return 'must not be blank';
  if (kind === 'line') return LINE_FORBIDDEN.test(text) ? 'must not contain control characters or text-direction overrides' : undefined;
  return DIRECTION_CONTROL.test(text) ? 'must not contain text-direction overrides' : undefined;
}
