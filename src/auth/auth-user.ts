import type { Role } from '../users/user.entity.js';

/** What a verified access token says: the user, and the token version it was issued at. */
export interface Caller {
  id: string;
  tokenVersion: number;
}

/** Who is calling: attached to each authenticated request and WebSocket connection. */
export interface AuthUser extends Caller {
  username: string;
  role: Role;
}
