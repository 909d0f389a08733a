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
    ['text holding NUL', encodeCursor(['a\u0000', '2'])],
    ['an id beyond bigint', encodeCursor(['a', '9999999999999999999'])],
  ])('rejects %s with a 400', (_case, cursor) => {
    expect(() => decodeCursor(cursor, ['string', 'id'])).toThrow(BadRequestException);
  });

  it.each(['2026-11-23 09:00:00+00', '2026-11-23 09:00:00.123456+00', '2024-02-29 23:59:59.5-05:30', '1883-11-18 12:00:00+00:53:28'])(
    'takes the timestamp %s as PostgreSQL writes it',
    (timestamp) => {
      expect(decodeCursor(encodeCursor([timestamp, '1']), ['timestamp', 'id'])).toEqual([timestamp, '1']);
    },
  );

  it.each([
    '2026',
    '1',
    '2026-11-23T09:00:00Z',
    '+275760-09-13 00:00:00+00',
    '0000-01-01 00:00:00+00',
    '2026-13-01 00:00:00+00',
    '2025-02-29 00:00:00+00',
    '2026-04-31 00:00:00+00',
    '2026-11-23 24:00:00+00',
    '2026-11-23 09:00:00+16',
    '2026-11-23 09:00:00.1234567+00',
    'infinity',
  ])('rejects the timestamp %s with a 400', (timestamp) => {
    expect(() => decodeCursor(encodeCursor([timestamp, '1']), ['timestamp', 'id'])).toThrow(BadRequestException);
  });
});
