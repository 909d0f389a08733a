import { randomBytes } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { expect } from 'vitest';
import type { TestApp } from './app.js';
import type { TestUser } from './factories.js';

/** The contract's `attachment`. */
export interface Attachment {
  id: string;
  filename: string;
  contentType: string;
  size: number;
  width: number | null;
  height: number | null;
  createdAt: string;
  url: string;
  thumbnailUrl: string | null;
}

/** A PNG of noise (so that it does not compress to nothing), `width` × `height`. */
export function png(width = 40, height = 30): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** A JPEG of noise with EXIF: a GPS position, a camera, and the orientation `orientation`. */
export function jpegWithGps(width: number, height: number, orientation = 1): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 80 })
    .withMetadata({ orientation })
    .withExif({
      IFD0: { Make: 'TestCam', Model: 'Spy 1' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 2613/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 3994/100' },
    })
    .toBuffer();
}

/**
 * A decompression bomb: a valid PNG of a few KB whose header declares `side` × `side` pixels
 * of 8-bit grey (2.5 GB decoded at 50,000).
 */
export function pngBomb(side = 50_000): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const rows = deflateSync(Buffer.alloc(4_000_000));
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', header), chunk('IDAT', rows), chunk('IEND', Buffer.alloc(0))]);
}

/** Uploads `bytes` as the part `file` named `filename`; the answer as supertest gives it. */
export function upload(app: TestApp, user: TestUser, bytes: Buffer, filename = 'file.bin', contentType = 'application/octet-stream') {
  return app.http().post('/api/v1/attachments').set(user.auth).attach('file', bytes, { filename, contentType });
}

/** Uploads and expects 201. */
export async function uploaded(app: TestApp, user: TestUser, bytes: Buffer, filename = 'file.bin', contentType?: string): Promise<Attachment> {
  const response = await upload(app, user, bytes, filename, contentType);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

/** A binary answer's bytes (supertest buffers only what it knows as text). */
export function binary(response: { on: (event: string, listener: (chunk?: Buffer) => void) => void; setEncoding?: unknown }, done: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  response.on('data', (chunk) => chunks.push(chunk!));
  response.on('end', () => done(null, Buffer.concat(chunks)));
}

/** GET with the bytes of the answer as `body` (a Buffer). */
export function download(app: TestApp, path: string, user?: TestUser) {
  const request = app.http().get(path).buffer(true).parse(binary);
  return user ? request.set(user.auth) : request;
}

export interface Part {
  name: string;
  /** A file part when given. */
  filename?: string;
  body: Buffer;
}

/**
 * POSTs a multipart body written by hand (any part names and file names, raw), with fetch;
 * `chunked` sends it as a stream with no Content-Length.
 */
export async function multipart(app: TestApp, user: TestUser, parts: Part[], options: { chunked?: boolean } = {}): Promise<Response> {
  const boundary = `----parley-test-${randomBytes(8).toString('hex')}`;
  const pieces: Buffer[] = [];
  for (const part of parts) {
    const filename = part.filename === undefined ? '' : `; filename="${part.filename.replace(/"/g, '%22')}"`;
    const type = part.filename === undefined ? '' : '\r\nContent-Type: application/octet-stream';
    pieces.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${filename}${type}\r\n\r\n`), part.body, Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  const body = Buffer.concat(pieces);
  const headers = { ...user.auth, 'Content-Type': `multipart/form-data; boundary=${boundary}` };
  if (!options.chunked) return fetch(`${app.url}/api/v1/attachments`, { method: 'POST', headers, body });
  const stream = new ReadableStream({
    start(controller) {
      for (let offset = 0; offset < body.length; offset += 16_384) controller.enqueue(body.subarray(offset, offset + 16_384));
      controller.close();
    },
  });
  return fetch(`${app.url}/api/v1/attachments`, { method: 'POST', headers, body: stream, duplex: 'half' } as RequestInit);
}
