/**
 * Every failure of a call to the server: an answer other than 2xx, in the contract's error
 * shape (`{statusCode, error, message}`), or no answer at all (`statusCode` 0).
 */
export class ParleyError extends Error {
  override readonly name = 'ParleyError';
  /** The HTTP status; 0 when the server could not be reached (network down, connection cut). */
  readonly statusCode: number;
  /** The status's name as the server gave it (`Bad Request`, `Not Found`…), or `Network Error`. */
  readonly error: string;
  /** Every message the server gave: validation errors can be several (`message` joins them). */
  readonly messages: string[];
  /** Seconds to wait before trying again, from the `Retry-After` header of a 429 or 503. */
  readonly retryAfter?: number;

  constructor(statusCode: number, error: string, message: string | string[], options: { retryAfter?: number; cause?: unknown } = {}) {
    const messages = Array.isArray(message) ? message : [message];
    super(messages.join('; '), options.cause === undefined ? undefined : { cause: options.cause });
    this.statusCode = statusCode;
    this.error = error;
    this.messages = messages;
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }

  /** No answer: the request may or may not have reached the server. */
  get isNetworkError(): boolean {
    return this.statusCode === 0;
  }

  /**
   * Whether sending the same request again later may succeed: no answer, 408, 429, or a 5xx
   * (the server restarting, the database briefly away). A 4xx is the request's own fault.
   */
  get isTransient(): boolean {
    return this.statusCode === 0 || this.statusCode === 408 || this.statusCode === 429 || this.statusCode >= 500;
  }

  /** The error for an answer that is not 2xx; `body` is its parsed JSON, if any. */
  static fromResponse(response: Response, body: unknown): ParleyError {
    const shaped = (body ?? {}) as { error?: unknown; message?: unknown };
    const message =
      typeof shaped.message === 'string' || (Array.isArray(shaped.message) && shaped.message.every((m) => typeof m === 'string'))
        ? (shaped.message as string | string[])
        : `The server answered ${response.status}`;
    const error = typeof shaped.error === 'string' ? shaped.error : response.statusText || `HTTP ${response.status}`;
    return new ParleyError(response.status, error, message, { retryAfter: retryAfterSeconds(response.headers.get('retry-after')) });
  }

  /** The error for a request that got no answer. */
  static network(cause: unknown): ParleyError {
    const detail = cause instanceof Error && cause.message ? `: ${cause.message}` : '';
    return new ParleyError(0, 'Network Error', `Cannot reach the server${detail}`, { cause });
  }
}

/** `Retry-After` as seconds: either a number of seconds or an HTTP date. */
export function retryAfterSeconds(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}
