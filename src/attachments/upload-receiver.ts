import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BadRequestException, PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';

/** An upload written whole to the staging directory. */
export interface StagedUpload {
  path: string;
  size: number;
  /** As the client named it (not yet cleaned). */
  filename: string;
}

export interface UploadLimits {
  /** ATTACHMENT_MAX_BYTES. */
  maxBytes: number;
  /** What is left of the uploader's quota. */
  quotaBytes: number;
  stagingDir: string;
}

/** Room for a multipart body's boundaries and part headers around the file itself. */
const MULTIPART_OVERHEAD_BYTES = 16 * 1024;

export function tooLarge(maxBytes: number): PayloadTooLargeException {
  return new PayloadTooLargeException(`The file is larger than ${maxBytes} bytes (ATTACHMENT_MAX_BYTES)`);
}

export function overQuota(): PayloadTooLargeException {
  return new PayloadTooLargeException('This upload would take you past your storage quota; delete messages with attachments to make room');
}

/**
 * Reads a `multipart/form-data` body that must hold exactly one part, a file named `file`, and
 * writes that file to the staging directory as it arrives (a chunk at a time: a 25 MiB file
 * never sits whole in memory). 413 as soon as the file passes ATTACHMENT_MAX_BYTES or what
 * is left of the quota; 400 without the part, with another part, or for a body cut off or
 * malformed. On any failure, nothing of it is left on disk.
 */
export async function receiveOneFile(request: FastifyRequest, limits: UploadLimits): Promise<StagedUpload> {
  if (!request.isMultipart()) throw new UnsupportedMediaTypeException('Send multipart/form-data with one part named file');
  // A client that announces a larger body is told at once, before it sends any of it.
  const announced = Number(request.headers['content-length']);
  if (announced > limits.maxBytes + MULTIPART_OVERHEAD_BYTES) throw tooLarge(limits.maxBytes);
  let staged: StagedUpload | undefined;
  try {
    // files: 2 and fields: 1, so that a second part reaches the loop (and is told apart) rather
    // than end it with the plugin's own 413 for a limit.
    const parts = request.parts({ limits: { fileSize: limits.maxBytes, files: 2, fields: 1, parts: 2, fieldSize: 1024, headerPairs: 32 } });
    for await (const part of parts) {
      if (part.type !== 'file' || part.fieldname !== 'file') {
        if (part.type === 'file') part.file.resume();
        throw new BadRequestException(`Unexpected part "${part.fieldname}": send one part, a file named file`);
      }
      if (staged) {
        part.file.resume();
        throw new BadRequestException('Send one file per upload (one part named file)');
      }
      staged = await stage(part, limits);
    }
  } catch (error) {
    if (staged) await rm(staged.path, { force: true });
    drainRest(request.raw);
    throw asClientError(error, limits);
  }
  if (!staged) throw new BadRequestException('No file: send one part named file');
  return staged;
}

async function stage(part: MultipartFile, limits: UploadLimits): Promise<StagedUpload> {
  const file = path.join(limits.stagingDir, randomUUID());
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      done(size > limits.quotaBytes ? overQuota() : null, chunk);
    },
  });
  try {
    await pipeline(part.file, counter, createWriteStream(file, { flags: 'wx' }));
    // Busboy ends a file at the size limit and marks it truncated.
    if (part.file.truncated) throw tooLarge(limits.maxBytes);
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
  return { path: file, size, filename: part.filename };
}

/** How long a refused upload's client may go on sending the rest before it is cut off. */
const DRAIN_MS = 10_000;

/**
 * Reads and drops what a refused upload has not sent yet, so that the client, still writing,
 * gets the answer rather than a reset connection; one that goes on longer is cut off.
 */
function drainRest(raw: IncomingMessage): void {
  if (raw.readableEnded || raw.destroyed) return;
  const timer = setTimeout(() => raw.destroy(), DRAIN_MS).unref();
  raw.once('close', () => clearTimeout(timer));
  raw.resume();
}

/** The plugin's and busboy's errors as the contract's 4xx. */
function asClientError(error: unknown, limits: UploadLimits): unknown {
  if (error instanceof BadRequestException || error instanceof PayloadTooLargeException) return error;
  const code = (error as { code?: string }).code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return tooLarge(limits.maxBytes);
  if (code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') {
    return new BadRequestException('Send one part only, a file named file');
  }
  if (code === 'FST_MP_PREMATURE_CLOSE') return new BadRequestException('The upload was cut off');
  if (code === 'FST_PROTO_VIOLATION') return new BadRequestException('Unexpected part: send one part, a file named file');
  // Busboy's parse errors: a malformed or truncated body.
  if (error instanceof Error && !(error as { statusCode?: number }).statusCode && isBusboyError(error)) {
    return new BadRequestException(`Malformed multipart body (${error.message})`);
  }
  return error;
}

function isBusboyError(error: Error): boolean {
  return /multipart|boundary|part|unexpected end|malformed/i.test(error.message);
}
