import { ParleyError, type Attachment } from '@parley/client';
import { el, setChildren } from '../dom.js';
import { errorText } from '../errors.js';
import { formatSize } from '../file-size.js';

/** `ParleyClient.upload`: the file's bytes, with progress and a way to cancel. */
export type Upload = (
  file: Blob,
  options: { filename?: string; signal?: AbortSignal; onProgress?: (sent: number, total: number) => void },
) => Promise<Attachment>;

/** The contract's most attachments on one message. */
const MAX_FILES = 10;

interface Item {
  file: File;
  name: string;
  controller: AbortController;
  /** Bytes sent so far, of `file.size`. */
  sent: number;
  /** Set once the server has stored the file. */
  attachment?: Attachment;
  element: HTMLLIElement;
}

/**
 * The files going with the next message. They come from the Attach button (a real file input
 * behind it), from dropping files on the conversation, or from pasting an image into the
 * composer; each uploads at once, shown in the tray above the composer with its progress and a
 * button that cancels the upload or takes the file out. A file the server refuses (too large,
 * a kind it does not take) leaves the tray with a message that names it.
 */
export class AttachTray {
  /** Goes in the composer, before the text. */
  readonly button: HTMLElement;
  /** Goes above the composer. */
  readonly element: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly list = el('ul', { class: 'attach-list', testid: 'attach-tray', attrs: { 'aria-label': 'Files to send' } });
  private readonly errors = el('div', { class: 'attach-errors form-error', testid: 'attach-error', attrs: { role: 'alert' } });
  private readonly items: Item[] = [];
  private dropTarget: HTMLElement | undefined;
  private dragDepth = 0;

  constructor(
    private readonly upload: Upload,
    pasteTarget: HTMLElement,
    /** Where focus goes when the last file is taken out. */
    private readonly focusAfterRemoval: () => void,
  ) {
    this.input = el('input', { testid: 'attach-input', attrs: { type: 'file', multiple: true, hidden: true } });
    this.input.addEventListener('change', () => {
      this.add([...(this.input.files ?? [])]);
      // The same file chosen again is a new change.
      this.input.value = '';
    });
    const open = el(
      'button',
      { class: 'attach-button', testid: 'attach', attrs: { type: 'button', title: 'Attach files' }, on: { click: () => this.input.click() } },
      paperclip(),
      el('span', { class: 'visually-hidden' }, 'Attach files'),
    );
    this.button = el('span', { class: 'attach' }, open, this.input);
    this.element = el('div', { class: 'attach-tray' }, this.errors, this.list);
    this.list.hidden = true;

    pasteTarget.addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      event.preventDefault();
      this.add(files);
    });
  }

  /** Whether any file is still on its way to the server. */
  get uploading(): boolean {
    return this.items.some((item) => !item.attachment);
  }

  /** The stored files' ids, in the order they were added. */
  attachmentIds(): string[] {
    return this.items.flatMap((item) => (item.attachment ? [item.attachment.id] : []));
  }

  /** The message went: the tray starts empty. */
  clear(): void {
    for (const item of this.items.splice(0)) item.controller.abort();
    setChildren(this.errors);
    this.render();
  }

  destroy(): void {
    for (const item of this.items.splice(0)) item.controller.abort();
  }

  add(files: File[]): void {
    setChildren(this.errors);
    const room = Math.max(0, MAX_FILES - this.items.length);
    for (const file of files.slice(0, room)) this.start(file);
    for (const file of files.slice(room)) this.fail(`"${nameOf(file)}" was left out: at most ${MAX_FILES} files go with one message.`);
    this.render();
  }

  /** Files dropped anywhere on `target` (the conversation) join the tray. */
  acceptDrops(target: HTMLElement): void {
    this.dropTarget = target;
    target.classList.add('drop-target');
    target.addEventListener('dragenter', this.onDragEnter);
    target.addEventListener('dragover', this.onDragOver);
    target.addEventListener('dragleave', this.onDragLeave);
    target.addEventListener('drop', this.onDrop);
  }

  private start(file: File): void {
    const name = nameOf(file);
    const item: Item = { file, name, controller: new AbortController(), sent: 0, element: el('li', { class: 'attach-item', testid: 'attach-item' }) };
    this.items.push(item);
    this.paint(item);
    this.upload(file, {
      filename: name,
      signal: item.controller.signal,
      onProgress: (sent) => {
        item.sent = sent;
        this.paint(item);
      },
    }).then(
      (attachment) => {
        item.attachment = attachment;
        this.paint(item);
      },
      (error: unknown) => {
        if (item.controller.signal.aborted) return;
        this.fail(refusal(name, file.size, error));
        this.remove(item, false);
      },
    );
  }

  private fail(text: string): void {
    this.errors.append(el('p', {}, text));
  }

  /** Cancels the upload (or forgets the stored file) and takes it out of the tray. */
  private remove(item: Item, byUser: boolean): void {
    const index = this.items.indexOf(item);
    if (index < 0) return;
    item.controller.abort();
    this.items.splice(index, 1);
    this.render();
    if (!byUser) return;
    // Focus moves to the next file's button, else the previous one's, else the composer.
    const next = this.items[index] ?? this.items[index - 1];
    if (next) next.element.querySelector('button')?.focus();
    else this.focusAfterRemoval();
  }

  private render(): void {
    setChildren(this.list, ...this.items.map((item) => item.element));
    this.list.hidden = this.items.length === 0;
  }

  private paint(item: Item): void {
    const done = Boolean(item.attachment);
    const size = item.file.size;
    const percent = size > 0 ? Math.min(100, Math.round((item.sent / size) * 100)) : 0;
    item.element.dataset.state = done ? 'done' : 'uploading';
    const status = done ? formatSize(size) : percent >= 100 ? 'Processing…' : `${percent}%`;
    // Built once; later paints only move the bar and the words.
    if (!item.element.firstChild) {
      setChildren(
        item.element,
        el('span', { class: 'attach-name' }, item.name),
        el('progress', { attrs: { max: 100, value: 0, 'aria-label': `Uploading ${item.name}` } }),
        el('span', { class: 'attach-status' }),
        el('button', {
          class: 'attach-remove',
          testid: 'attach-remove',
          attrs: { type: 'button' },
          on: { click: () => this.remove(item, true) },
        }),
      );
    }
    const [, progress, words, button] = Array.from(item.element.children) as [HTMLElement, HTMLProgressElement, HTMLElement, HTMLButtonElement];
    progress.value = percent;
    progress.hidden = done;
    if (words.textContent !== status) words.textContent = status;
    const label = done ? `Remove ${item.name}` : `Cancel upload of ${item.name}`;
    if (button.getAttribute('aria-label') !== label) {
      button.setAttribute('aria-label', label);
      button.title = label;
      button.textContent = '×';
    }
  }

  private readonly onDragEnter = (event: DragEvent): void => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    this.dragDepth += 1;
    this.dropTarget?.classList.add('drop-active');
  };

  private readonly onDragOver = (event: DragEvent): void => {
    if (!carriesFiles(event)) return;
    // Without this the browser would open the file in place of the page.
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
  };

  private readonly onDragLeave = (event: DragEvent): void => {
    if (!carriesFiles(event)) return;
    this.dragDepth = Math.max(0, this.dragDepth - 1);
    if (this.dragDepth === 0) this.dropTarget?.classList.remove('drop-active');
  };

  private readonly onDrop = (event: DragEvent): void => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    this.dragDepth = 0;
    this.dropTarget?.classList.remove('drop-active');
    this.add([...(event.dataTransfer?.files ?? [])]);
  };
}

function carriesFiles(event: DragEvent): boolean {
  return event.dataTransfer?.types.includes('Files') ?? false;
}

/** A pasted image often has no useful name. */
function nameOf(file: File): string {
  if (file.name && file.name !== 'image.png') return file.name;
  const extension = file.type.startsWith('image/') ? file.type.slice('image/'.length).replace('jpeg', 'jpg') : 'bin';
  return `pasted-image-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.${extension}`;
}

/** Why the server would not take a file, naming it. */
function refusal(name: string, size: number, error: unknown): string {
  if (error instanceof ParleyError) {
    if (error.statusCode === 413) {
      if (/quota/i.test(error.message)) return `"${name}" was not sent: it would take you past your storage quota.`;
      const limit = /larger than (\d+) bytes/.exec(error.message)?.[1];
      return `"${name}" is too large to send (${formatSize(size)}${limit ? `; the most is ${formatSize(Number(limit))}` : ''}).`;
    }
    if (error.statusCode === 415) return `"${name}" was refused: this kind of file cannot be sent.`;
    if (error.statusCode === 400) return `"${name}" was refused: ${error.message}`;
  }
  return `"${name}" could not be uploaded: ${errorText(error)}`;
}

/** A paperclip, drawn (the page's CSP admits no icon font or inline markup). */
function paperclip(): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  for (const [name, value] of Object.entries({ viewBox: '0 0 24 24', width: '20', height: '20', fill: 'none', stroke: 'currentColor', 'stroke-width': '2', 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': 'true', focusable: 'false' })) {
    svg.setAttribute(name, value);
  }
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48');
  svg.append(path);
  return svg;
}
