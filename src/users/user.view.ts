import type { User } from './user.entity.js';

/** `user` in the contract. */
export interface UserView {
  id: string;
  username: string;
  displayName: string;
  createdAt: string;
}

export function toUserView(user: Pick<User, 'id' | 'username' | 'displayName' | 'createdAt'>): UserView {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    createdAt: new Date(user.createdAt).toISOString(),
  };
}
