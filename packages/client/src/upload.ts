import { ParleyError } from './errors.js';
import type { Attachment } from './http.js';
import type { TokenSource } from './tokens.js';

/** The parts of the browser's XMLHttpRequest an upload with progress uses (Node has none). */
interface ProgressRequest {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getResponseHeader(name: string): string | null;
  send(body: FormData): void;
  abort(): void;
  responseType: string;
  readonly status: number;
  readonly response: unknown;
  readonly upload: { onprogress: ((event: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  onloadend: (() => void) | null;
}

type ProgressRequestConstructor = new () => ProgressRequest;

function requestConstructor(): ProgressRequestConstructor | undefined {
  return (globalThis as { XMLHttpRequest?: ProgressRequestConstructor }).XMLHttpRequest;
}

/** fetch cannot report upload progress; XMLHttpRequest can, where there is one (browsers). */
export function canReportProgress(): boolean {
  return requestConstructor() !== undefined;
}

export interface ProgressUploadOptions {
  filename?: string;
  signal?: AbortSignal;
  onProgress: (sent: number, total: number) => void;
}

/** `POST /api/v1/attachments` by XMLHttpRequest, sent once more after a renewed token. */
export async function uploadWithProgress(url: string, file: Blob, tokens: TokenSource, options: ProgressUploadOptions): Promise<Attachment> {
  const token = tokens.accessToken;
  let answer = await post(url, file, token, options);
  if (answer.status === 401 && (await tokens.renew(token)) === 'renewed') answer = await post(url, file, tokens.accessToken, options);
  if (answer.status >= 200 && answer.status < 300) return answer.body as Attachment;
  const headers = new Headers(answer.retryAfter ? { 'retry-after': answer.retryAfter } : {});
  throw ParleyError.fromResponse(new Response(null, { status: answer.status, headers }), answer.body);
}

interface Answer {
  status: number;
  body: unknown;
  retryAfter: string | null;
}

function post(url: string, file: Blob, token: string, options: ProgressUploadOptions): Promise<Answer> {
  const Request = requestConstructor();
  if (!Request) return Promise.reject(new Error('@parley/client: no XMLHttpRequest here'));
  const cancelled = () => new DOMException('The upload was cancelled', 'AbortError');
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(cancelled());
    const request = new Request();
    const form = new FormData();
    form.append('file', file, options.filename ?? ((file as Blob & { name?: string }).name || 'file'));
    request.open('POST', url);
    request.setRequestHeader('authorization', `Bearer ${token}`);
    request.responseType = 'json';
    request.upload.onprogress = (event) => options.onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    const abort = () => request.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    request.onloadend = () => options.signal?.removeEventListener('abort', abort);
    request.onload = () => resolve({ status: request.status, body: request.response, retryAfter: request.getResponseHeader('retry-after') });
    request.onerror = () => reject(ParleyError.network(new Error('the upload got no answer')));
    request.onabort = () => reject(cancelled());
    request.send(form);
  });
}
