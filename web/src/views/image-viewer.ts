import type { Attachment } from '@parley/client';
import { el } from '../dom.js';
import { formatSize } from '../file-size.js';

/**
 * An image at full size in a modal <dialog>: focus stays inside, Escape, the Close button or a
 * click beside the image closes it, and focus returns to what opened it. `prepare` lets the
 * caller renew the image's URL should it have expired.
 */
export function openImageViewer(attachment: Attachment, opener: HTMLElement, prepare: (img: HTMLImageElement) => void): void {
  const img = el('img', { class: 'viewer-image', attrs: { src: attachment.url, alt: attachment.filename } });
  prepare(img);
  const close = el('button', { class: 'viewer-close', testid: 'viewer-close', attrs: { type: 'button' }, on: { click: () => dialog.close() } }, 'Close');
  const dialog = el(
    'dialog',
    { class: 'image-viewer', testid: 'image-viewer', attrs: { 'aria-label': attachment.filename } },
    el(
      'div',
      { class: 'viewer-bar' },
      el('span', { class: 'viewer-name' }, attachment.filename),
      el('span', { class: 'viewer-size' }, formatSize(attachment.size)),
      el('a', { class: 'viewer-download', attrs: { href: attachment.url, download: attachment.filename } }, 'Download'),
      close,
    ),
    el('div', { class: 'viewer-frame' }, img),
  );
  // A click on the backdrop lands on the dialog itself; one on the image or the bar does not.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog || event.target === dialog.lastElementChild) dialog.close();
  });
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}
