import { createHmac, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { isId } from '../common/ids.js';
import { Clock } from './clock.js';
import type { AttachmentFacts, AttachmentView } from './attachment.view.js';

export type LinkKind = 'content' | 'thumbnail';

/** What a signed link carries in its query string. */
export interface LinkQuery {
  user?: string;
  expires?: string;
  signature?: string;
}

/** Links expire at the end of the next half hour: 30 to 60 minutes after they are made. */
const WINDOW_SECONDS = 30 * 60;

/**
 * Signed links to an attachment's bytes, for `<img src>` and downloads that cannot send an
 * Authorization header: `/api/v1/attachments/:id/content?user=&expires=&signature=`, the
 * signature an HMAC-SHA256 of the kind, the attachment, the user it was made for and the
 * expiry. A link names its user, and every fetch checks that this user may still see the
 * attachment (a member removed from the conversation loses it at once), so a link is worth no
 * more than its user's own access, for at most an hour.
 *
 * The key is derived from the token signing secret, so it is kept and shared across instances
 * exactly as that is (JWT_SECRET, or DATA_DIR/jwt-secret on the embedded database), and a link
 * made by one instance works on every other.
 */
@Injectable()
export class AttachmentLinks {
  private readonly key: Buffer;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.key = createHmac('sha256', config.jwtSecret).update('parley attachment links v1').digest();
  }

  /** The contract's `attachment` as `viewerId` gets it, with links signed for that user. */
  view(facts: AttachmentFacts, viewerId: string): AttachmentView {
    const expires = this.expiry();
    return {
      id: facts.id,
      filename: facts.filename,
      contentType: facts.contentType,
      size: Number(facts.size),
      width: facts.width,
      height: facts.height,
      createdAt: new Date(facts.createdAt).toISOString(),
      url: this.link('content', facts.id, viewerId, expires),
      thumbnailUrl: facts.hasThumbnail ? this.link('thumbnail', facts.id, viewerId, expires) : null,
    };
  }

  /** For a message's attachments (none when the read gave null). */
  views(facts: readonly AttachmentFacts[] | null | undefined, viewerId: string): AttachmentView[] {
    return facts ? facts.map((one) => this.view(one, viewerId)) : [];
  }

  /** Seconds until links made now expire: how long a presigned redirect or a cache may keep one. */
  secondsLeft(expires = this.expiry()): number {
    return Math.max(1, expires - Math.floor(this.clock.now() / 1000));
  }

  /**
   * The user a link was made for, if the query holds a genuine, unexpired link to this kind
   * of this attachment; undefined otherwise.
   */
  verify(kind: LinkKind, attachmentId: string, query: LinkQuery): { userId: string; expires: number } | undefined {
    const { user, expires, signature } = query;
    if (!isId(user) || typeof expires !== 'string' || !/^\d{1,12}$/.test(expires) || typeof signature !== 'string') return undefined;
    const expiresAt = Number(expires);
    if (expiresAt * 1000 <= this.clock.now()) return undefined;
    const expected = this.sign(kind, attachmentId, user, expiresAt);
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return { userId: user, expires: expiresAt };
  }

  private expiry(): number {
    return (Math.floor(this.clock.now() / 1000 / WINDOW_SECONDS) + 2) * WINDOW_SECONDS;
  }

  private link(kind: LinkKind, attachmentId: string, userId: string, expires: number): string {
    const signature = this.sign(kind, attachmentId, userId, expires).toString();
    return `/api/v1/attachments/${attachmentId}/${kind}?user=${userId}&expires=${expires}&signature=${signature}`;
  }

  private sign(kind: LinkKind, attachmentId: string, userId: string, expires: number): Buffer {
    return Buffer.from(createHmac('sha256', this.key).update(`${kind}\n${attachmentId}\n${userId}\n${expires}`).digest('base64url'));
  }
}
