import { describe, expect, it } from 'vitest';
import { mentionTokens } from '../../src/messages/mentions.js';

describe('mentionTokens', () => {
  it.each([
    ['hello', null],
    ['@bob', 'bob'],
    ['hi @Bob and @carol_1, @BOB', 'bob carol_1'],
    ['thanks @bob.', 'bob.'],
    ['(@bob) @a.b-c_d', 'bob a.b-c_d'],
    ['mail bob@example.org', null],
    ['@@bob', null],
    ['@ab', null],
    [`@${'x'.repeat(32)}`, 'x'.repeat(32)],
    [`@${'x'.repeat(33)}`, null],
    ['@bob\n@alice', 'bob alice'],
    ['@émile', null],
    ['word@bob', null],
    ['é@bob', null],
    ['👍@bob', 'bob'],
  ])('%j → %j', (body, tokens) => {
    expect(mentionTokens(body)).toBe(tokens);
  });

  it('keeps at most 50 names', () => {
    const body = Array.from({ length: 80 }, (_, i) => `@user${i}`).join(' ');
    expect(mentionTokens(body)!.split(' ')).toHaveLength(50);
  });
});
