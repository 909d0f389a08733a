import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { isUniqueViolation } from '../common/pg-errors.js';
import type { Page } from '../common/page.js';
import { User } from './user.entity.js';
import { toUserView, type UserView } from './user.view.js';

@Injectable()
export class UsersService {
  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  /** Usernames are case-insensitive: they are stored lower-cased. */
  static normalizeUsername(username: string): string {
    return username.toLowerCase();
  }

  async create(username: string, passwordHash: string, displayName?: string): Promise<User> {
    const normalized = UsersService.normalizeUsername(username);
    try {
      const inserted = await this.users.save(
        this.users.create({ username: normalized, displayName: displayName?.trim() || normalized, passwordHash }),
      );
      return this.getById(inserted.id);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('Username is already taken');
      throw error;
    }
  }

  /** The user with its password hash, for login; undefined when there is none. */
  async findWithPasswordHash(username: string): Promise<User | null> {
    return this.users
      .createQueryBuilder('user')
      .addSelect('user.passwordHash')
      .where('user.username = :username', { username: UsersService.normalizeUsername(username) })
      .getOne();
  }

  async getById(id: string): Promise<User> {
    const user = await this.users.findOneBy({ id });
    if (!user) throw new NotFoundException('User not found');
    return user;
  }

  /**
   * One active user by id (the users search shows, the caller included). Clients need it to name
   * the members of a conversation, which carries only their ids.
   */
  async getActive(id: string): Promise<UserView> {
    const user = await this.users.findOneBy({ id, active: true });
    if (!user) throw new NotFoundException('User not found');
    return toUserView(user);
  }

  /** Active users other than the caller, by username; `q` matches username or display name. */
  async search(callerId: string, q: string | undefined, limit: number, cursor?: string): Promise<Page<UserView>> {
    const query = this.users
      .createQueryBuilder('user')
      .where('user.active AND user.id <> :callerId', { callerId })
      .orderBy('user.username', 'ASC')
      .limit(limit + 1);
    if (q?.trim()) {
      const pattern = `%${q.trim().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query.andWhere('(user.username ILIKE :pattern OR user.displayName ILIKE :pattern)', { pattern });
    }
    if (cursor) {
      const [afterUsername] = decodeCursor(cursor, ['string']);
      query.andWhere('user.username > :afterUsername', { afterUsername });
    }
    const rows = await query.getMany();
    const items = rows.slice(0, limit);
    const nextCursor = rows.length > limit ? encodeCursor([items[items.length - 1].username]) : null;
    return { items: items.map(toUserView), nextCursor };
  }

  /** The ids among `ids` that name active users. */
  async findActiveIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.users
      .createQueryBuilder('user')
      .select('user.id', 'id')
      .where('user.id IN (:...ids) AND user.active', { ids })
      .getRawMany<{ id: string }>();
    return new Set(rows.map((row) => row.id));
  }
}
