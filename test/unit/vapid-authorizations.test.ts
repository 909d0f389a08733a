import webpush from 'web-push';
import { describe, expect, it } from 'vitest';
import { VapidAuthorizations } from '../../src/push/vapid-authorizations.js';

const keys = { ...webpush.generateVAPIDKeys(), subject: 'mailto:admin@example.com' };

/** The claims of a `vapid t=<JWT>, k=<key>` header. */
function claims(authorization: string): { aud: string; exp: number; sub: string } {
  const [, token, key] = /^vapid t=([\w.-]+), k=([\w-]+)$/.exec(authorization)!;
  expect(key).toBe(keys.publicKey);
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

describe('VapidAuthorizations', () => {
  it('signs one token per push service, for its origin, valid 12 hours, and reuses it within the hour', () => {
    const authorizations = new VapidAuthorizations(keys);
    const now = Date.UTC(2026, 11, 7, 12);
    const first = authorizations.for('https://fcm.googleapis.com/fcm/send/abc', now);
    expect(claims(first)).toEqual({ aud: 'https://fcm.googleapis.com', exp: now / 1000 + 12 * 3600, sub: 'mailto:admin@example.com' });
    expect(authorizations.for('https://fcm.googleapis.com/fcm/send/other', now + 59 * 60_000)).toBe(first);

    const mozilla = authorizations.for('https://updates.push.services.mozilla.com/wpush/v2/x', now);
    expect(claims(mozilla).aud).toBe('https://updates.push.services.mozilla.com');

    const later = authorizations.for('https://fcm.googleapis.com/fcm/send/abc', now + 60 * 60_000);
    expect(later).not.toBe(first);
    expect(claims(later).exp).toBe(now / 1000 + 13 * 3600);
  });

  it('keeps at most 64 push services, forgetting the least recently used', () => {
    const authorizations = new VapidAuthorizations(keys);
    const now = Date.UTC(2026, 11, 7, 12);
    const kept = authorizations.for('https://kept.example/push', now);
    for (let i = 0; i < 70; i++) {
      authorizations.for(`https://service-${i}.example/push`, now);
      if (i % 10 === 0) expect(authorizations.for('https://kept.example/push', now)).toBe(kept);
    }
    const forgotten = authorizations.for('https://service-0.example/push', now + 1000);
    expect(claims(forgotten).exp).toBe(Math.floor((now + 1000) / 1000) + 12 * 3600);
  });
});
