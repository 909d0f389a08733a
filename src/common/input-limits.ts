import { BadRequestException } from '@nestjs/common';
import { hasLoneSurrogate, LONE_SURROGATE_MESSAGE } from './text-rules.js';

/** Deeper than any body the API takes (a list of ids is two deep), far short of the stack's limit. */
const MAX_DEPTH = 32;

/**
 * Checked once for every body, query and path parameter, before validation. PostgreSQL text
 * cannot hold U+0000, so a NUL anywhere would reach the database only to fail there; nor an
 * unpaired surrogate, which would be stored as U+FFFD without a word (src/common/text-rules.ts). And
 * class-transformer copies a body recursively: JSON nested a few thousand deep overflowed the
 * stack (a 500), where JSON.parse had taken it.
 */
export function assertWithinInputLimits(value: unknown, depth = 0): void {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) throw new BadRequestException('Text must not contain NUL (U+0000) characters');
    if (hasLoneSurrogate(value)) throw new BadRequestException(LONE_SURROGATE_MESSAGE);
  } else if (value !== null && typeof value === 'object') {
    if (depth === MAX_DEPTH) throw new BadRequestException(`JSON must not be nested more than ${MAX_DEPTH} deep`);
    for (const [key, item] of Object.entries(value)) {
      assertWithinInputLimits(key, depth + 1);
      assertWithinInputLimits(item, depth + 1);
    }
  }
}
