import { createPublicKey } from 'node:crypto';

/**
 * Whether a subscription's `p256dh` (URL-safe base64) is an uncompressed point on P-256, as
 * RFC 8291 needs it to be: 0x04, then x and y of 32 bytes each. Node refuses a point that is not on
 * the curve when it imports the key.
 */
export function isP256PublicKey(base64url: string): boolean {
  const bytes = Buffer.from(base64url, 'base64url');
  if (bytes.length !== 65 || bytes[0] !== 0x04) return false;
  try {
    const [x, y] = [bytes.subarray(1, 33), bytes.subarray(33)].map((half) => half.toString('base64url'));
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
    return true;
  } catch {
    return false;
  }
}
