import { BadRequestException } from '@nestjs/common';

/**
 * Keyset-pagination cursors: the sort key of the last item of a page, as base64url JSON.
 * Opaque to clients; a tampered cursor is a 400, never a database error.
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string, shape: readonly ('string' | 'id')[]): string[] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const valid =
    Array.isArray(key) &&
    key.length === shape.length &&
    key.every((part, i) =>
      shape[i] === 'id' ? typeof part === 'string' && /^\d{1,19}$/.test(part) : typeof part === 'string',
    );
  if (!valid) throw new BadRequestException('cursor is invalid');
  return key as string[];
}
