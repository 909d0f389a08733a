import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { isUniqueViolation } from '../common/pg-errors.js';
import type { Page } from '../common/page.js';
import type { User } from './user.entity.js';
import type { UpdateMeDto } from './dto/update-me.dto.js';
import { toSelfView, toUserView, type SelfView, type UserView } from './user.view.js';
import { UsersRepository } from './users.repository.js';

/** Told, after the change has committed, that a user now shares its presence or no longer does. */
export type PresenceSharingListener = (userId: string, sharePresence: boolean) => void;

@Injectable()
export class UsersService {
  private readonly presenceSharingListeners: PresenceSharingListener[] = [];

  constructor(private readonly users: UsersRepository) {}

  /** Presence re-announces a user whose `sharePresence` was set (users cannot depend on it). */
  onPresenceSharingChanged(listener: PresenceSharingListener): void {
    this.presenceSharingListeners.push(listener);
  }

  /** Usernames are case-insensitive: they are stored lower-cased. */
  static normalizeUsername(username: string): string {
    return username.toLowerCase();
  }

  async create(username: string, passwordHash: string, displayName?: string): Promise<User> {
    const normalized = UsersService.normalizeUsername(username);
    try {
      const id = await this.users.insert(normalized, displayName?.trim() || normalized, passwordHash);
      return this.getById(id);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('Username is already taken');
      throw error;
    }
  }

  /** The user with its password hash, for login; undefined when there is none. */
  async findWithPasswordHash(username: string): Promise<User | null> {
    return this.users.findWithPasswordHash(UsersService.normalizeUsername(username));
  }

  async getById(id: string): Promise<User> {
    const user = await this.users.findById(id);
    if (!user) throw new NotFoundException('User not found');
    return user;
  }

  async updateMe(id: string, changes: UpdateMeDto): Promise<SelfView> {
    const user = await this.users.updateSettings(id, { ...changes, displayName: changes.displayName?.trim() });
    if (!user) throw new NotFoundException('User not found');
    if (changes.sharePresence !== undefined) {
      for (const listener of this.presenceSharingListeners) listener(id, user.sharePresence);
    }
    return toSelfView(user);
  }

  /**
   * One active user by id (the users search shows, the caller included). Clients need it to name
   * the members of a conversation, which carries only their ids.
   */
  async getActive(id: string): Promise<UserView> {
    const user = await this.users.findActiveById(id);
    if (!user) throw new NotFoundException('User not found');
    return toUserView(user);
  }

  /** Active users other than the caller, by username; `q` matches username or display name. */
  async search(callerId: string, q: string | undefined, limit: number, cursor?: string): Promise<Page<UserView>> {
    const afterUsername = cursor ? decodeCursor(cursor, ['string'])[0] : undefined;
    const rows = await this.users.searchActive(callerId, q?.trim() || undefined, afterUsername, limit + 1);
    const items = rows.slice(0, limit);
    const nextCursor = rows.length > limit ? encodeCursor([items[items.length - 1].username]) : null;
    return { items: items.map(toUserView), nextCursor };
  }

  /** The ids among `ids` that name active users. */
  findActiveIds(ids: string[]): Promise<Set<string>> {
    return this.users.findActiveIds(ids);
  }
}
