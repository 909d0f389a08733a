import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
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
 * not paid a TCP (and TLS) handshake per delivery.
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
  const { url, pinned } = destination;
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const request = client.request(url, {
      method: 'POST',
      ...(pinned ? { lookup: lookupOnly(pinned.address, pinned.family) } : {}),
      agent: keptAgent(destination),
      headers: { 'content-length': Buffer.byteLength(body), ...headers },
    });
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${DELIVERY_TIMEOUT_MS / 1000} s`)), DELIVERY_TIMEOUT_MS);
    const settle = (outcome: PostOutcome, reusedConnectionReset = false) => {
      clearTimeout(timer);
      resolve({ outcome, reusedConnectionReset });
    };
    request.once('error', (error: NodeJS.ErrnoException) =>
      settle({ ok: false, error: error.message }, request.reusedSocket && error.code === 'ECONNRESET'),
    );
    request.once('response', (response) => {
      // The answer's body is not read, only drained, until it ends (within the same time limit).
      response.resume();
      response.once('end', () => {
        const status = response.statusCode ?? 0;
        settle(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `answered ${status}` });
      });
      response.once('error', (error) => settle({ ok: false, error: error.message }));
    });
    request.end(body);
  });
}

const agents = new Map<string, http.Agent>();

/**
 * The keep-alive agent of one destination: its origin and the address checked for it, so that a
 * kept connection is only ever reused for the address it was checked for.
 */
function keptAgent({ url, pinned }: Destination): http.Agent {
  const key = `${url.origin}|${pinned?.address ?? ''}`;
  let agent = agents.get(key);
  if (agent) {
    agents.delete(key); // to the end: most recently used
  } else {
    const options = { keepAlive: true, timeout: IDLE_CONNECTION_MS, maxSockets: CONNECTIONS_PER_DESTINATION, maxFreeSockets: CONNECTIONS_PER_DESTINATION, scheduling: 'lifo' } as const;
    agent = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    if (agents.size >= KEPT_DESTINATIONS) {
      const [oldestKey, oldest] = agents.entries().next().value!;
      agents.delete(oldestKey);
      oldest.destroy();
    }
  }
  agents.set(key, agent);
  return agent;
}

/** A `lookup` for the HTTP client that answers the checked address, whatever it is asked. */
function lookupOnly(address: string, family: 4 | 6): LookupFunction {
  return (_hostname, options, callback) => {
    // Node asks for every address when it may try several (autoSelectFamily): it gets the one.
    if ((options as { all?: boolean }).all) (callback as (error: null, all: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
}
