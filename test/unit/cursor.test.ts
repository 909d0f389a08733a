import { BadRequestException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/common/cursor.js';

describe('cursors', () => {
  it('round-trips a key', () => {
    const cursor = encodeCursor(['2026-11-23 09:00:00.123456+00', '42']);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, ['string', 'id'])).toEqual(['2026-11-23 09:00:00.123456+00', '42']);
  });

  it.each([
    ['not base64 JSON', '@@@'],
    ['the wrong shape', encodeCursor(['a'])],
    ['a non-id where an id belongs', encodeCursor(['a', 'b'])],
    ['a number where a string belongs', Buffer.from('[1,"2"]').toString('base64url')],
  ])('rejects %s with a 400', (_case, cursor) => {
    expect(() => decodeCursor(cursor, ['string', 'id'])).toThrow(BadRequestException);
  });
});
