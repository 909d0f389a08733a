import type { Role } from '../users/user.entity.js';

/** Who is calling: attached to each authenticated request and WebSocket connection. */
export interface AuthUser {
  id: string;
  username: string;
  role: Role;
}
