import { describe, expect, it } from 'vitest';
import { canonicalEmoji } from '../../src/reactions/emoji.js';

describe('canonicalEmoji', () => {
  it.each([
    ['👍', '👍'],
    ['👍🏽', '👍🏽'],
    ['☝🏽', '☝🏽'],
    ['👨‍👩‍👧‍👦', '👨‍👩‍👧‍👦'],
    ['🧑🏽‍🤝‍🧑🏿', '🧑🏽‍🤝‍🧑🏿'],
    ['🇺🇦', '🇺🇦'],
    ['🏴󠁧󠁢󠁳󠁣󠁴󠁿', '🏴󠁧󠁢󠁳󠁣󠁴󠁿'],
    ['1️⃣', '1️⃣'],
    ['🏳️‍🌈', '🏳️‍🌈'],
    // The presentation selector, left out or added where it is not needed: one reaction either way.
    ['❤', '❤️'],
    ['❤️', '❤️'],
    ['😀\uFE0F', '😀'],
    ['1\u20E3', '1️⃣'],
    ['🏳\u200D🌈', '🏳️‍🌈'],
    ['©', '©️'],
  ])('takes %s as %s', (text, canonical) => {
    expect(canonicalEmoji(text)).toBe(canonical);
  });

  it.each([
    ['two emoji', '👍👍'],
    ['an emoji and text', '👍ok'],
    ['text', 'ok'],
    ['a letter', 'a'],
    ['a bare digit', '1'],
    ['a digit with the presentation selector', '1\uFE0F'],
    ['a hash sign', '#'],
    ['a lone regional indicator', '🇺'],
    ['three regional indicators', '🇺🇦🇺'],
    ['nothing', ''],
    ['a space', ' '],
    ['a zero-width joiner', '\u200D'],
    ['a presentation selector', '\uFE0F'],
    ['emoji joined into no emoji', '👍\u200D👍'],
    ['a letter and a combining mark', 'e\u0301'],
    ['a lone surrogate', '\uD83D'],
    ['a very long string', '👍'.repeat(100)],
  ])('refuses %s', (_name, text) => {
    expect(canonicalEmoji(text)).toBeUndefined();
  });
});
