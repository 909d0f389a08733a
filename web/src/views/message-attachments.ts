import type { Attachment, ParleyApi } from '@parley/client';
import { el } from '../dom.js';
import { formatSize } from '../file-size.js';
import { openImageViewer } from './image-viewer.js';

/** The longer side of a thumbnail as shown in a message; the server makes them up to 320 px. */
const THUMBNAIL_PX = 240;
/** Signed URLs expire within an hour: one held this long is renewed before a download. */
const LINK_FRESH_MS = 45 * 60_000;

/**
 * The attachments of the messages of one conversation view: images as thumbnails that open in
 * a viewer, other files as download links with their size. Signed URLs expire within an
 * hour, so an image that fails to load asks the server once for fresh ones, and a link held
 * for long is renewed before it is followed.
 */
export class MessageAttachments {
  /** The newest copy of each attachment (fresh URLs), and when it was received. */
  private readonly held = new Map<string, { attachment: Attachment; at: number }>();
  private readonly renewing = new Map<string, Promise<Attachment>>();

  constructor(private readonly api: ParleyApi) {}

  /** The list for a message's attachments, or null for none. */
  render(attachments: readonly Attachment[]): HTMLElement | null {
    if (attachments.length === 0) return null;
    return el(
      'ul',
      { class: 'attachments', attrs: { 'aria-label': attachments.length === 1 ? 'Attachment' : `${attachments.length} attachments` } },
      ...attachments.map((attachment) => el('li', {}, attachment.thumbnailUrl ? this.image(this.hold(attachment)) : this.file(this.hold(attachment)))),
    );
  }

  /** The attachment with the freshest URLs held, remembering this copy if it is the first. */
  private hold(attachment: Attachment): Attachment {
    const held = this.held.get(attachment.id);
    if (held) return held.attachment;
    this.held.set(attachment.id, { attachment, at: Date.now() });
    return attachment;
  }

  /** Fresh signed URLs for an attachment, asked once however many elements want them. */
  private renew(id: string): Promise<Attachment> {
    let renewal = this.renewing.get(id);
    if (!renewal) {
      renewal = this.api.attachment(id).then((attachment) => {
        this.held.set(id, { attachment, at: Date.now() });
        return attachment;
      });
      renewal.finally(() => this.renewing.delete(id)).catch(() => undefined);
      this.renewing.set(id, renewal);
    }
    return renewal;
  }

  private image(attachment: Attachment): HTMLElement {
    const { width, height } = thumbnailSize(attachment);
    const img = el('img', {
      class: 'attachment-thumbnail',
      attrs: { src: attachment.thumbnailUrl, alt: attachment.filename, width, height, loading: 'lazy', decoding: 'async' },
    });
    this.renewOnError(img, attachment.id, (fresh) => fresh.thumbnailUrl);
    const button = el(
      'button',
      {
        class: 'attachment-image',
        testid: 'attachment-image',
        attrs: { type: 'button', title: `${attachment.filename} (${formatSize(attachment.size)})` },
        on: {
          click: () => {
            const current = this.held.get(attachment.id)?.attachment ?? attachment;
            openImageViewer(current, button, (img) => this.renewOnError(img, attachment.id, (fresh) => fresh.url));
          },
        },
      },
      el('span', { class: 'visually-hidden' }, 'View full size: '),
      img,
    );
    return button;
  }

  /** An image whose signed URL has expired gets a fresh one, once. */
  private renewOnError(img: HTMLImageElement, id: string, pick: (fresh: Attachment) => string | null): void {
    img.addEventListener(
      'error',
      () => {
        this.renew(id).then(
          (fresh) => {
            const src = pick(fresh);
            if (src) img.src = src;
          },
          () => img.classList.add('failed'),
        );
      },
      { once: true },
    );
  }

  private file(attachment: Attachment): HTMLElement {
    const link = el(
      'a',
      { class: 'attachment-file', testid: 'attachment-file', attrs: { href: attachment.url, download: attachment.filename } },
      el('span', { class: 'attachment-icon', attrs: { 'aria-hidden': 'true' } }),
      el('span', { class: 'attachment-name' }, attachment.filename),
      el('span', { class: 'attachment-size' }, formatSize(attachment.size)),
    );
    link.addEventListener('click', (event) => {
      const held = this.held.get(attachment.id);
      if (!held || Date.now() - held.at < LINK_FRESH_MS) return;
      // The link may have expired: renew it, then follow the fresh one.
      event.preventDefault();
      void this.renew(attachment.id).then(
        (fresh) => {
          link.href = fresh.url;
          link.click();
        },
        () => undefined,
      );
    });
    return link;
  }
}

/** The thumbnail's size on screen, from the image's own: room is kept before it loads. */
function thumbnailSize(attachment: Attachment): { width: number; height: number } {
  const width = attachment.width ?? THUMBNAIL_PX;
  const height = attachment.height ?? THUMBNAIL_PX;
  const scale = Math.min(1, THUMBNAIL_PX / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}
