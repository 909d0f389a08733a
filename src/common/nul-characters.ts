import { BadRequestException } from '@nestjs/common';

/**
 * PostgreSQL text cannot hold U+0000, so a NUL anywhere in a body or query string would reach
 * the database only to fail there. Checked once for every request, before validation.
 */
export function assertNoNulCharacters(value: unknown, depth = 0): void {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) throw new BadRequestException('Text must not contain NUL (U+0000) characters');
  } else if (value !== null && typeof value === 'object' && depth < 32) {
    for (const [key, item] of Object.entries(value)) {
      assertNoNulCharacters(key, depth + 1);
      assertNoNulCharacters(item, depth + 1);
    }
  }
}
