import webpush from 'web-push';
import type { VapidKeys } from './vapid-keys.js';

/** How long a VAPID token is valid for (RFC 8292 allows up to 24 h). */
const VALID_SECONDS = 12 * 60 * 60;
/** A token is used for this long, then a new one is signed: it is never sent with less than 11 h left. */
const REUSED_MS = 60 * 60 * 1000;
/** Push services kept: a handful in practice (one per browser vendor); the least recently used beyond it are signed again. */
const KEPT_AUDIENCES = 64;

/**
 * The `Authorization` header of each push service (the endpoint's origin, the token's audience),
 * signed once an hour rather than once a push. web-push signs a new ES256 token on every
 * `generateRequestDetails` given `vapidDetails`: 68% of its time in the bench's pushes
 * (bench/HISTORY.md, 2026-12-07 18:26).
 */
export class VapidAuthorizations {
  private readonly byAudience = new Map<string, { authorization: string; signedAt: number }>();

  constructor(private readonly keys: VapidKeys) {}

  for(endpoint: string, now = Date.now()): string {
    const audience = new URL(endpoint).origin;
    const kept = this.byAudience.get(audience);
    this.byAudience.delete(audience); // to the end: most recently used
    if (kept && now - kept.signedAt < REUSED_MS) {
      this.byAudience.set(audience, kept);
      return kept.authorization;
    }
    const expiration = Math.floor(now / 1000) + VALID_SECONDS;
    const { Authorization } = webpush.getVapidHeaders(audience, this.keys.subject, this.keys.publicKey, this.keys.privateKey, 'aes128gcm', expiration);
    const signed = { authorization: Authorization, signedAt: now };
    this.byAudience.set(audience, signed);
    if (this.byAudience.size > KEPT_AUDIENCES) this.byAudience.delete(this.byAudience.keys().next().value!);
    return signed.authorization;
  }
}
