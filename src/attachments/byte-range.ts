import type { ByteRange } from './storage/attachment-storage.js';

/**
 * The one range a `Range` header asks of `size` bytes (RFC 9110 §14): `bytes=a-b`, `bytes=a-`
 * or the last `n` with `bytes=-n`, cut at the end. Undefined for the whole file: no header, a
 * header that does not parse, or several ranges (which a server may answer whole).
 * `unsatisfiable` (416) when the range starts past the end.
 */
export function requestedRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? Infinity : Number(match[2]);
  if (!Number.isSafeInteger(start) || end < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}
