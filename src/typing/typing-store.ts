import { PassOnLimiter } from './pass-on-limiter.js';

/** The contract's pass-on limit: at most one typing frame per user and conversation every 2 s. */
export const TYPING_INTERVAL_MS = 2000;

export interface Admission {
  /** Whether this frame is passed on: the first of its user and conversation within 2 s. */
  admitted: boolean;
  /**
   * The conversation's membership version, which a cached member list must have been read at;
   * null when it cannot be known (Redis down): read the members from the database.
   */
  membershipVersion: string | null;
}

/**
 * Where the typing path keeps what every instance must agree on: the pass-on limit per user and
 * conversation, and a version of each conversation's membership that moves on every change, so
 * that each instance's cached member lists are checked on every frame without a database read.
 * In memory for one instance (`LocalTypingStore`), in Redis for several (`RedisTypingStore`).
 */
export abstract class TypingStore {
  /**
   * Counts a typing frame of `userId` in `conversationId`. `needVersion`: the caller needs the
   * membership version even for a frame that is not admitted (the HTTP route answers 404 to a
   * non-member whatever the limit); otherwise a frame known to be over the limit costs nothing.
   */
  abstract admit(userId: string, conversationId: string, needVersion: boolean): Admission | Promise<Admission>;

  /** The conversation's members changed (committed): its version moves, on every instance. */
  abstract membershipChanged(conversationId: string): void;

  /** Set by the typing service: versions may have moved unseen, cached member lists are void. */
  onReset?: () => void;
}

/** One instance: the limit and the versions in memory. */
export class LocalTypingStore extends TypingStore {
  private readonly limiter = new PassOnLimiter(TYPING_INTERVAL_MS);
  private readonly versions = new Map<string, number>();

  admit(userId: string, conversationId: string): Admission {
    return {
      admitted: this.limiter.tryPass(`${userId}:${conversationId}`),
      membershipVersion: String(this.versions.get(conversationId) ?? 0),
    };
  }

  membershipChanged(conversationId: string): void {
    this.versions.set(conversationId, (this.versions.get(conversationId) ?? 0) + 1);
  }
}
