/** Longest file name kept, in characters (most file systems take 255 bytes). */
const MAX_FILENAME_LENGTH = 200;
const FALLBACK_NAME = 'file';

/**
 * The name a file is shown and downloaded with, made safe from what the client sent: only its
 * last path segment (`../../etc/passwd` is `passwd`, `C:\\x\\y.txt` is `y.txt`), without control
 * characters, text-direction overrides and isolates (which can make `exe.txt` read as `txt.exe`),
 * line and paragraph separators or unpaired surrogates, in NFC, trimmed, at most 200
 * characters with its extension kept. It is never used as a path: stored files are named by key.
 */
export function cleanFilename(raw: string | undefined): string {
  let name = (raw ?? '').normalize('NFC');
  name = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  name = name.replace(/[\p{Cc}\p{Cs}\u2028\u2029\u202A-\u202E\u2066-\u2069\uFEFF]/gu, '').trim();
  if (name === '' || name === '.' || name === '..') return FALLBACK_NAME;
  const characters = [...name];
  if (characters.length <= MAX_FILENAME_LENGTH) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? [...name.slice(dot)] : [];
  if (extension.length > 16) return characters.slice(0, MAX_FILENAME_LENGTH).join('');
  return characters.slice(0, MAX_FILENAME_LENGTH - extension.length).join('') + extension.join('');
}

/**
 * `Content-Disposition` for a download of `filename`: an ASCII fallback for old clients and the
 * exact name in RFC 8187's `filename*`.
 */
export function contentDisposition(disposition: 'inline' | 'attachment', filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${disposition}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
