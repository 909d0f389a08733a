/** When webhooks and pushes are tried again, and when they are given up or taken for forgotten. */

/** Given up on after this long failing: more than the contract's "at least 24 h". */
export const RETRY_WINDOW_HOURS = 25;

/** Deliveries waiting this long with no job are taken for forgotten (a job runs well within it). */
export const FORGOTTEN_AFTER_SECONDS = 60;

/** The first retry's delay; each failure in a row doubles it, up to the cap. */
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 60 * 60_000;

/**
 * How long to wait after `failuresInARow` failures: exponential, capped at an hour, and jittered
 * (between half and all of it) so that destinations that failed together do not retry together.
 */
export function retryDelayMs(failuresInARow: number, random = Math.random()): number {
  const full = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(failuresInARow - 1, 20));
  return Math.round(full / 2 + (random * full) / 2);
}
