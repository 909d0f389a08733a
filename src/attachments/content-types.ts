import { open } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';

/** Images a browser may show inline: formats with no scripts in them. SVG is not one. */
export const INLINE_IMAGE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** Images whose size is read and which get a thumbnail (what sharp decodes). */
export const IMAGE_TYPES: ReadonlySet<string> = new Set([...INLINE_IMAGE_TYPES, 'image/avif', 'image/tiff']);

const TEXT_SAMPLE_BYTES = 4096;

/**
 * What the file's bytes are, whatever its name or the client said: `file-type`'s reading of its
 * magic numbers; failing that, `text/plain` for text (well-formed UTF-8 without control
 * characters other than tab, line breaks and form feed), else `application/octet-stream`.
 * Text formats are not told apart (HTML, SVG without an XML declaration, scripts are all
 * `text/plain`), which is the safe reading: nothing here is served for a browser to render.
 */
export async function sniffContentType(file: string): Promise<string> {
  // Loaded with the first upload rather than at every start.
  const { fileTypeFromFile } = await import('file-type');
  const detected = await fileTypeFromFile(file);
  if (detected) return detected.mime;
  return looksLikeText(await readHead(file, TEXT_SAMPLE_BYTES)) ? 'text/plain' : 'application/octet-stream';
}

async function readHead(file: string, bytes: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function looksLikeText(head: Buffer): boolean {
  if (head.length === 0) return false;
  for (const byte of head) {
    if ((byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0c && byte !== 0x0d) || byte === 0x7f) return false;
  }
  if (head.length < TEXT_SAMPLE_BYTES) return isUtf8(head);
  // The sample may end inside a character of up to four bytes.
  return [0, 1, 2, 3].some((cut) => isUtf8(head.subarray(0, head.length - cut)));
}
