import { length } from 'class-validator';

/**
 * Whether `text` is `min`–`max` characters long, counted as class-validator's `@Length` counts
 * them on every decorated field (and JSON Schema's `maxLength` in the API document): an emoji,
 * or any character beyond the Basic Multilingual Plane, is one character, not the two UTF-16
 * code units that `String.length` counts.
 */
export function isLengthBetween(text: string, min: number, max: number): boolean {
  // Counted so, a string is never longer than its code units and is empty only when they are
  // none: with a minimum of at most 1 (message bodies), a short enough string needs no scan.
  if (min <= 1 && text.length <= max) return text.length >= min;
  return length(text, min, max);
}
