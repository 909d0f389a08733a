/**
 * Access tokens whose signature has already been checked, until they expire, so that
 * jsonwebtoken's verify (HMAC, base64 and JSON decoding) runs once per token rather than on
 * every request that carries it. Chosen for speed (README.md in this folder). Keyed by the
 * whole token, the signature included, so only a byte-identical token is found; bounded, so
 * forged or one-off tokens cannot grow it. Revocation is unaffected: it is checked against the database on every
 * request, not here.
 */
export class VerifiedTokens<Claims> {
  private readonly entries = new Map<string, { claims: Claims; expiresAtSeconds: number }>();

  constructor(private readonly maxEntries: number) {}

  /** The claims of a token verified earlier and not yet expired (by jsonwebtoken's rule). */
  get(token: string, nowMs = Date.now()): Claims | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (Math.floor(nowMs / 1000) >= entry.expiresAtSeconds) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.claims;
  }

  /** Remembers a token just verified; one without an expiry is not kept. */
  add(token: string, claims: Claims, expiresAtSeconds: unknown): void {
    if (typeof expiresAtSeconds !== 'number' || !Number.isFinite(expiresAtSeconds)) return;
    // Full: forget the oldest (a Map iterates in insertion order). A live client's token is
    // simply verified again and re-added on its next request.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { claims, expiresAtSeconds });
  }

  get size(): number {
    return this.entries.size;
  }
}
