import type { LookupFunction } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import type { Destination } from './destination.js';

/** The contract's limit for webhooks, and push's too: no 2xx within it is a failure. */
export const DELIVERY_TIMEOUT_MS = 10_000;

export type PostOutcome = { ok: true; status: number } | { ok: false; status?: number; error: string };

/** Destinations whose idle connections are kept; the least recently used beyond it are closed. */
const KEPT_DESTINATIONS = 256;
/**
 * How long an idle connection is kept: under the 5 s that servers commonly keep one open for (Node's
 * own default), so that we seldom write to a connection the other side is closing.
 */
const IDLE_CONNECTION_MS = 4_000;
/**
 * Requests in flight to one destination at once (the per-destination concurrency limit): more
 * wait for a connection, which is kept for the next. Many bots often share one host; opening a
 * connection per request to it cost more than the requests themselves.
 */
const CONNECTIONS_PER_DESTINATION = 16;

/**
 * POSTs a body to someone else's server at a checked destination: the connection goes to the
 * address that was checked (the HTTP client's own lookup is replaced), redirects are not followed
 * (a 3xx is a failure like any other non-2xx), and the whole exchange has DELIVERY_TIMEOUT_MS.
 * Connections are kept alive per destination and address, so a busy webhook or push service is
 * not paid a TCP (and TLS) handshake per delivery. The client is undici's `Pool`, cheaper in
 * CPU a request than `node:http` (docs/performance.md, where the time goes).
 */
export async function postTo(destination: Destination, headers: Record<string, string | number>, body: string | Buffer): Promise<PostOutcome> {
  const first = await postOnce(destination, headers, body);
  // A kept connection the other side closed just as we wrote to it: once more, on a new one (as
  // Node's documentation advises; deliveries are at least once, deduplicated by their id).
  return first.reusedConnectionReset ? (await postOnce(destination, headers, body)).outcome : first.outcome;
}

function postOnce(
  destination: Destination,
  headers: Record<string, string | number>,
  body: string | Buffer,
): Promise<{ outcome: PostOutcome; reusedConnectionReset?: boolean }> {
  const { url } = destination;
  const pool = keptPool(destination);
  // The pool hands a request to its first connection that is open and idle, if it has one.
  const onKeptConnection = pool.stats.free > 0;
  return new Promise((resolve) => {
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let drained = 0;
    let settled = false;
    const settle = (outcome: PostOutcome, reusedConnectionReset = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ outcome, reusedConnectionReset });
    };
    const answered = (): PostOutcome => (status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `answered ${status}` });
    const timer = setTimeout(() => {
      const error = new Error(`no answer within ${DELIVERY_TIMEOUT_MS / 1000} s`);
      controller?.abort(error);
      settle({ ok: false, error: error.message });
    }, DELIVERY_TIMEOUT_MS);
    // undici's handler interface rather than `pool.request`: a request's promise, stream and
    // AbortSignal cost more CPU than the exchange itself on a local network.
    pool.dispatch(
      { method: 'POST', path: `${url.pathname}${url.search}`, headers: { 'content-length': String(Buffer.byteLength(body)), ...lowerCaseNames(headers) }, body },
      {
        onRequestStart(started) {
          controller = started;
          if (settled) started.abort(new Error('given up'));
        },
        onResponseStart(_controller, statusCode) {
          status = statusCode;
        },
        // The answer's body is not read, only drained; past ANSWER_DRAINED_BYTES the answer
        // counts as it stands and its connection is closed rather than read further.
        onResponseData(responding, chunk) {
          drained += chunk.length;
          if (drained <= ANSWER_DRAINED_BYTES) return;
          settle(answered());
          responding.abort(new Error('answer body too long'));
        },
        onResponseEnd() {
          settle(answered());
        },
        onResponseError(_controller, error) {
          const { code } = error as NodeJS.ErrnoException;
          settle({ ok: false, error: error.message }, status === 0 && onKeptConnection && CONNECTION_LOST.has(code ?? ''));
        },
      },
    );
  });
}

/** Of an answer's body, what is read (and thrown away) so that its connection may be kept. */
const ANSWER_DRAINED_BYTES = 64 * 1024;

/** How a connection the other side closed under a request shows. */
const CONNECTION_LOST = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** Headers as undici takes them: one name in one case (web-push's `Content-Length` would be a second). */
function lowerCaseNames(headers: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), String(value)]));
}

const pools = new Map<string, Pool>();

/**
 * The pool of kept connections to one destination: its origin and the address checked for it,
 * so that a kept connection is only ever reused for the address it was checked for.
 */
function keptPool({ url, pinned }: Destination): Pool {
  const key = `${url.origin}|${pinned?.address ?? ''}`;
  let pool = pools.get(key);
  if (pool) {
    pools.delete(key); // to the end: most recently used
  } else {
    pool = new Pool(url.origin, {
      connections: CONNECTIONS_PER_DESTINATION,
      keepAliveTimeout: IDLE_CONNECTION_MS,
      keepAliveMaxTimeout: IDLE_CONNECTION_MS,
      headersTimeout: DELIVERY_TIMEOUT_MS,
      bodyTimeout: DELIVERY_TIMEOUT_MS,
      connect: { timeout: DELIVERY_TIMEOUT_MS, ...(pinned ? { lookup: lookupOnly(pinned.address, pinned.family) } : {}) },
    });
    if (pools.size >= KEPT_DESTINATIONS) {
      const [oldestKey, oldest] = pools.entries().next().value!;
      pools.delete(oldestKey);
      // Its requests in flight end as failures and are tried again later.
      void oldest.destroy().catch(() => undefined);
    }
  }
  pools.set(key, pool);
  return pool;
}

/** A `lookup` for the HTTP client that answers the checked address, whatever it is asked. */
function lookupOnly(address: string, family: 4 | 6): LookupFunction {
  return (_hostname, options, callback) => {
    // Node asks for every address when it may try several (autoSelectFamily): it gets the one.
    if ((options as { all?: boolean }).all) (callback as (error: null, all: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
}
