import { BadRequestException } from '@nestjs/common';
import { isId } from './ids.js';

/**
 * Keyset-pagination cursors: the sort key of the last item of a page, as base64url JSON.
 * Opaque to clients; a tampered cursor is a 400, never a database error, so each part is
 * checked to be something PostgreSQL takes as its type.
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** What a part of a key is: text, an id, or a timestamptz as PostgreSQL writes it (`::text`). */
export type CursorPart = 'string' | 'id' | 'timestamp';

const IS_PART: Record<CursorPart, (value: string) => boolean> = {
  // PostgreSQL text cannot hold U+0000.
  string: (value) => !value.includes('\u0000'),
  id: isId,
  timestamp: isPostgresTimestamp,
};

export function decodeCursor(cursor: string, shape: readonly CursorPart[]): string[] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const valid =
    Array.isArray(key) &&
    key.length === shape.length &&
    key.every((part, i) => typeof part === 'string' && IS_PART[shape[i]](part));
  if (!valid) throw new BadRequestException('cursor is invalid');
  return key as string[];
}

// `2026-11-23 09:00:00.123456+00`; the offset is that of the session's TimeZone, to the second
// for some historical zones.
const POSTGRES_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?[+-](\d{2})(?::[0-5]\d){0,2}$/;

function isPostgresTimestamp(value: string): boolean {
  const match = POSTGRES_TIMESTAMP.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second, offsetHours] = match.slice(1).map(Number);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return (
    year >= 1 && daysInMonth !== undefined && day >= 1 && day <= daysInMonth &&
    hour <= 23 && minute <= 59 && second <= 59 && offsetHours <= 15
  );
}
