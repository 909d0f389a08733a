import { randomUUID } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger, NotFoundException, UnauthorizedException } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { TokenService } from '../auth/token.service.js';
import { bearerToken } from '../auth/auth.guard.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { requestedRange } from './byte-range.js';
import { AttachmentLinks, type LinkKind, type LinkQuery } from './attachment-links.js';
import type { AttachmentView } from './attachment.view.js';
import { AttachmentsRepository, type StoredAttachment } from './attachments.repository.js';
import { IMAGE_TYPES, INLINE_IMAGE_TYPES, sniffContentType } from './content-types.js';
import { cleanFilename, contentDisposition } from './filenames.js';
import { ImageProcessor, THUMBNAIL_CONTENT_TYPE } from './image-processor.js';
import { AttachmentStorage, StoredObjectMissing, type ByteRange } from './storage/attachment-storage.js';
import { overQuota, receiveOneFile } from './upload-receiver.js';

/** Who fetches an attachment's bytes: the user, and whether by a signed link (until when). */
export interface Viewer {
  userId: string;
  /** Set for a signed link: when it expires (seconds since the epoch). */
  linkExpires?: number;
}

/** What a download answers: the bytes (or a range of them), a redirect to the bucket, or 416 for a range past the end. */
export type Download =
  | { redirect: string }
  | { unsatisfiable: number }
  | { body: Readable; contentType: string; disposition: string; size: number; range?: ByteRange; cacheSeconds?: number };

/**
 * Uploads (checked, stripped, thumbnailed, stored), who may see an attachment, and its bytes.
 * Attaching to messages is the messages module's (one transaction with the send or edit).
 */
@Injectable()
export class AttachmentsService {
  private readonly logger = new Logger(AttachmentsService.name);

  constructor(
    private readonly attachments: AttachmentsRepository,
    private readonly storage: AttachmentStorage,
    private readonly images: ImageProcessor,
    private readonly links: AttachmentLinks,
    private readonly tokens: TokenService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Takes a multipart upload: the file is staged on disk as it arrives, its type sniffed from
   * its bytes, an image's metadata stripped and its thumbnail made; then its row is written
   * (within the quota), its files stored, and the row marked stored. Nothing is left behind by
   * an upload that fails at any step.
   */
  async upload(uploaderId: string, request: FastifyRequest): Promise<AttachmentView> {
    const quotaLeft = this.config.attachmentQuotaBytes - (await this.attachments.usedBytes(uploaderId));
    if (quotaLeft <= 0) throw overQuota();
    const staged = await receiveOneFile(request, {
      maxBytes: this.config.attachmentMaxBytes,
      quotaBytes: quotaLeft,
      stagingDir: this.storage.stagingDir,
    });
    const leftovers = [staged.path];
    try {
      const contentType = await sniffContentType(staged.path);
      let image: { width: number; height: number; thumbnailPath: string; thumbnailSize: number } | undefined;
      if (IMAGE_TYPES.has(contentType)) {
        const processed = await this.images.process(staged.path, contentType);
        leftovers.push(processed.thumbnailPath);
        image = { ...processed, thumbnailSize: (await stat(processed.thumbnailPath)).size };
      }
      // Stripping metadata changes the size.
      const size = image ? (await stat(staged.path)).size : staged.size;
      const key = storageKey();
      const upload = {
        uploaderId,
        filename: cleanFilename(staged.filename),
        contentType,
        size,
        width: image?.width ?? null,
        height: image?.height ?? null,
        storageKey: key,
        thumbnailKey: image ? `${key}.thumb` : null,
        thumbnailSize: image?.thumbnailSize ?? null,
      };
      const row = await this.attachments.insertStoring(upload, this.config.attachmentQuotaBytes);
      if (!row) throw overQuota();
      try {
        await this.storage.put(key, staged.path, contentType);
        if (image) await this.storage.put(upload.thumbnailKey!, image.thumbnailPath, THUMBNAIL_CONTENT_TYPE);
        await this.attachments.markStored(row.id);
      } catch (error) {
        // A row left `storing` (the database gone too) is the cleanup job's to remove.
        await Promise.allSettled([this.storage.delete(key), upload.thumbnailKey && this.storage.delete(upload.thumbnailKey)]);
        await this.attachments.deleteStoring(row.id).catch(() => undefined);
        throw error;
      }
      return this.links.view({ ...upload, id: row.id, createdAt: row.createdAt, hasThumbnail: image !== undefined }, uploaderId);
    } finally {
      await Promise.all(leftovers.map((file) => rm(file, { force: true })));
    }
  }

  async get(viewerId: string, attachmentId: string): Promise<AttachmentView> {
    return this.links.view(await this.requireVisible(viewerId, attachmentId), viewerId);
  }

  /**
   * Who is fetching bytes: the user a signed link was made for (a link that is not genuine, or
   * has expired, is a 404 like an attachment that does not exist), or else the bearer token's.
   */
  async viewer(kind: LinkKind, attachmentId: string, query: LinkQuery, authorization: string | undefined): Promise<Viewer> {
    if (query.user !== undefined || query.expires !== undefined || query.signature !== undefined) {
      const link = this.links.verify(kind, attachmentId, query);
      if (!link) throw notFound();
      return { userId: link.userId, linkExpires: link.expires };
    }
    const token = bearerToken(authorization);
    if (!token) throw new UnauthorizedException('Missing bearer token (or use the signed url)');
    return { userId: (await this.tokens.authenticate(token)).id };
  }

  /** The attachment's bytes (or a range), or its thumbnail's, for `viewer`; 404 if it may not see them. */
  async download(viewer: Viewer, attachmentId: string, kind: LinkKind, rangeHeader: string | undefined): Promise<Download> {
    const attachment = await this.requireVisible(viewer.userId, attachmentId);
    const key = kind === 'content' ? attachment.storageKey : attachment.thumbnailKey;
    if (!key) throw new NotFoundException('This attachment has no thumbnail (it is not an image)');
    const contentType = kind === 'content' ? servedType(attachment.contentType) : THUMBNAIL_CONTENT_TYPE;
    const disposition = contentDisposition(
      kind === 'thumbnail' || INLINE_IMAGE_TYPES.has(contentType) ? 'inline' : 'attachment',
      kind === 'content' ? attachment.filename : `${attachment.filename}.thumbnail.webp`,
    );
    const cacheSeconds = viewer.linkExpires === undefined ? undefined : this.links.secondsLeft(viewer.linkExpires);
    if (this.config.s3RedirectDownloads) {
      const redirect = await this.storage.presignedUrl(key, cacheSeconds ?? this.links.secondsLeft(), { contentType, contentDisposition: disposition });
      if (redirect) return { redirect };
    }
    const size = Number(kind === 'content' ? attachment.size : attachment.thumbnailSize);
    const wanted = requestedRange(rangeHeader, size);
    if (wanted === 'unsatisfiable') return { unsatisfiable: size };
    try {
      const body = await this.storage.read(key, wanted);
      return { body, contentType, disposition, size, range: wanted, cacheSeconds };
    } catch (error) {
      if (!(error instanceof StoredObjectMissing)) throw error;
      this.logger.error(`Attachment ${attachmentId} is stored, but its ${kind} is not in the ${this.storage.kind} storage (${key})`);
      throw notFound();
    }
  }

  private async requireVisible(viewerId: string, attachmentId: string): Promise<StoredAttachment> {
    const attachment = await this.attachments.findVisible(attachmentId, viewerId);
    if (!attachment) throw notFound();
    return attachment;
  }
}

/** Text was sniffed as well-formed UTF-8: say so, rather than leave the browser to guess. */
function servedType(contentType: string): string {
  return contentType === 'text/plain' ? 'text/plain; charset=utf-8' : contentType;
}

function notFound(): NotFoundException {
  return new NotFoundException('Attachment not found');
}

/** Where the bytes go: a random name, spread over 256 directories. */
function storageKey(): string {
  const id = randomUUID();
  return `${id.slice(0, 2)}/${id}`;
}
