import { length } from 'class-validator';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLengthBetween } from '../../src/common/text-length.js';

describe('isLengthBetween', () => {
  it('counts an emoji as one character, not two code units', () => {
    expect(isLengthBetween('😀'.repeat(4000), 1, 4000)).toBe(true);
    expect(isLengthBetween('😀'.repeat(4001), 1, 4000)).toBe(false);
    expect(isLengthBetween('😀'.repeat(4), 8, 128)).toBe(false);
    expect(isLengthBetween('😀'.repeat(8), 8, 128)).toBe(true);
    expect(isLengthBetween('', 1, 4000)).toBe(false);
  });

  it('answers as class-validator’s @Length, with or without its shortcut', () => {
    const text = fc.string({ maxLength: 40, unit: fc.constantFrom('a', ' ', 'é', '😀', '❤', '\uFE0F', '\uD83D', '\uDE00') });
    fc.assert(
      fc.property(text, fc.nat(30), fc.nat(30), (value, min, extra) => {
        expect(isLengthBetween(value, min, min + extra)).toBe(length(value, min, min + extra));
      }),
      { numRuns: 5000 },
    );
  });
});
