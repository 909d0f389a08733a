import type { Role } from './role.js';

// The caller as AuthGuard sets it and every feature reads it: here rather than in auth, so that
// features (users among them) read it without depending on auth.

/** What a verified access token says: the user, its token version, its session and expiry. */
export interface Caller {
  id: string;
  tokenVersion: number;
  /** The session the token was issued to (its `sid` claim): ending the session revokes it. */
  sessionId: string;
  /** When the token expires, in seconds since the epoch (its `exp` claim). */
  expiresAt: number;
}

/** Who is calling: attached to each authenticated request and WebSocket connection. */
export interface AuthUser extends Caller {
  username: string;
  role: Role;
}
