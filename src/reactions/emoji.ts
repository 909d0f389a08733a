import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';

/**
 * What a reaction is: exactly one emoji, judged by Unicode's own data rather than by a list.
 *
 * - One grapheme cluster, as `Intl.Segmenter` counts them: a ZWJ family (👨‍👩‍👧‍👦), a flag
 *   (🇫🇷, 🏴󠁧󠁢󠁳󠁣󠁴󠁿), a skin tone (👍🏽) or a keycap (1️⃣) is one; two emoji, or text, are more.
 * - That cluster is an emoji: `\p{RGI_Emoji}` (a property of strings, with the `v` flag), the
 *   sequences Unicode recommends for general interchange. A bare digit, `#` or a letter is a
 *   cluster but no emoji; a lone regional indicator is not RGI.
 * - Keyboards differ on the emoji presentation selector (U+FE0F): `❤` and `❤️`, or an emoji
 *   with one it does not need, are the same reaction. The fully qualified form is the one
 *   kept, so that they count together.
 */
// Built from a string: the `v` flag needs an ES2024 target in the type-checker, and Node 20 has it.
const RGI_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');
const PRESENTATION_SELECTOR = '\uFE0F';
const NEEDS_SELECTOR = /^\p{Emoji}$/u;
const HAS_PRESENTATION = /^[\p{Emoji_Presentation}\p{Emoji_Modifier}]$/u;
const MODIFIER = /^\p{Emoji_Modifier}$/u;
/** Longer than any RGI emoji (the longest, tag flags and ZWJ families, are under 30 code units). */
const MAX_LENGTH = 64;

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/**
 * The answers given so far: a reaction toggle judges its emoji on every request, and people
 * use few. Cleared when full, so text sent to fill it costs memory only up to this.
 */
const judged = new Map<string, string | undefined>();
const JUDGED_MAX = 10_000;

export const EMOJI_MESSAGE = 'emoji must be exactly one emoji (one grapheme cluster, URL-encoded)';

/** The reaction `text` names, in its fully qualified form, or undefined when it is not one emoji. */
export function canonicalEmoji(text: string): string | undefined {
  if (text.length === 0 || text.length > MAX_LENGTH) return undefined;
  if (judged.has(text)) return judged.get(text);
  if (judged.size >= JUDGED_MAX) judged.clear();
  const emoji = judge(text);
  judged.set(text, emoji);
  return emoji;
}

function judge(text: string): string | undefined {
  const clusters = graphemes.segment(text)[Symbol.iterator]();
  if (clusters.next().done || !clusters.next().done) return undefined;
  if (RGI_EMOJI.test(text)) return text;
  const qualified = fullyQualified(text.replaceAll(PRESENTATION_SELECTOR, ''));
  return RGI_EMOJI.test(qualified) ? qualified : undefined;
}

/** The selector after every emoji character shown as text by default (not before a skin tone). */
function fullyQualified(bare: string): string {
  const points = [...bare];
  return points
    .map((point, i) => {
      const next = points[i + 1];
      const wanted = NEEDS_SELECTOR.test(point) && !HAS_PRESENTATION.test(point) && !(next && MODIFIER.test(next));
      return wanted ? point + PRESENTATION_SELECTOR : point;
    })
    .join('');
}

/** The `:emoji` of a route, decoded by the router: its canonical form, or 400. */
@Injectable()
export class ParseEmojiPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    const emoji = typeof value === 'string' ? canonicalEmoji(value) : undefined;
    if (emoji === undefined) throw new BadRequestException(EMOJI_MESSAGE);
    return emoji;
  }
}
