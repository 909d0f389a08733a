import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Destination } from './destination.js';

/** The contract's limit for webhooks, and push's too: no 2xx within it is a failure. */
export const DELIVERY_TIMEOUT_MS = 10_000;

export type PostOutcome = { ok: true; status: number } | { ok: false; status?: number; error: string };

/**
 * POSTs a body to someone else's server at a checked destination: the connection goes to the
 * address that was checked (the HTTP client's own lookup is replaced), redirects are not followed
 * (a 3xx is a failure like any other non-2xx), and the whole exchange has DELIVERY_TIMEOUT_MS.
 */
export function postTo(destination: Destination, headers: Record<string, string | number>, body: string | Buffer): Promise<PostOutcome> {
  const { url, pinned } = destination;
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const request = client.request(url, {
      method: 'POST',
      ...(pinned ? { lookup: lookupOnly(pinned.address, pinned.family) } : {}),
      agent: false,
      headers: { 'content-length': Buffer.byteLength(body), ...headers },
    });
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${DELIVERY_TIMEOUT_MS / 1000} s`)), DELIVERY_TIMEOUT_MS);
    const settle = (outcome: PostOutcome) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    request.once('error', (error) => settle({ ok: false, error: error.message }));
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

/** A `lookup` for the HTTP client that answers the checked address, whatever it is asked. */
function lookupOnly(address: string, family: 4 | 6): LookupFunction {
  return (_hostname, options, callback) => {
    // Node asks for every address when it may try several (autoSelectFamily): it gets the one.
    if ((options as { all?: boolean }).all) (callback as (error: null, all: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
}
