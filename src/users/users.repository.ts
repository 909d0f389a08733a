import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import type { Role } from '../common/caller/role.js';
import { User } from './user.entity.js';

/** A user as the admin API shows it: the account's state and how many messages it has sent. */
export interface AdminUserRow {
  id: string;
  username: string;
  displayName: string;
  createdAt: Date;
  role: Role;
  active: boolean;
  lastSeenAt: Date | null;
  messageCount: string;
}

export interface AdminUserFilter {
  q?: string;
  role?: Role;
  active?: boolean;
  afterUsername?: string;
}

/** The changed user, and the bots it owns that were deactivated with it. */
export type UserChangeResult = { user: AdminUserRow; deactivatedBotIds: string[] } | 'caller-not-admin' | 'not-found';

/** What the first-admin setup needs of an account: its id, role, activation and password hash. */
export interface Account {
  id: string;
  role: Role;
  active: boolean;
  passwordHash: string;
}

// The sent-message count is part of the admin list's one statement, not a second query per page.
const ADMIN_USER_COLUMNS = `
  u.id, u.username, u.display_name AS "displayName", u.created_at AS "createdAt", u.role, u.active,
  u.last_seen_at AS "lastSeenAt",
  (SELECT count(*) FROM messages m WHERE m.sender_id = u.id) AS "messageCount"`;

// Serialises changes to roles and activation, so that two admins demoting each other at the
// same moment cannot both succeed. Any constant works; the migration lock uses another.
const ADMIN_CHANGES_LOCK_KEY = 7_261_978;

/** `text` as an ILIKE pattern matching it anywhere, its own `%`, `_` and `\` taken literally. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Every statement on `users`, whoever needs it (registration and login, the users search,
 * last-seen times, the admin API and the first admin). Other features' statements that only
 * check a user inside their own (a send's recipient, a message read's caller, a session's
 * refresh) stay with those statements, rather than becoming a second round trip.
 */
@Injectable()
export class UsersRepository {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /** Inserts a user and returns its id; a taken username fails with a unique violation. */
  async insert(username: string, displayName: string, passwordHash: string): Promise<string> {
    const inserted = await this.users.save(this.users.create({ username, displayName, passwordHash }));
    return inserted.id;
  }

  /** The user with its password hash, by (already normalised) username. */
  findWithPasswordHash(username: string): Promise<User | null> {
    return this.users
      .createQueryBuilder('user')
      .addSelect('user.passwordHash')
      .where('user.username = :username', { username })
      .getOne();
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  findActiveById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id, active: true });
  }

  /**
   * Up to `limit` active users other than the caller, by username, after `afterUsername`;
   * `q` matches username or display name.
   */
  searchActive(callerId: string, q: string | undefined, afterUsername: string | undefined, limit: number): Promise<User[]> {
    const query = this.users
      .createQueryBuilder('user')
      .where('user.active AND user.id <> :callerId', { callerId })
      .orderBy('user.username', 'ASC')
      .limit(limit);
    if (q) query.andWhere('(user.username ILIKE :pattern OR user.displayName ILIKE :pattern)', { pattern: containsPattern(q) });
    if (afterUsername !== undefined) query.andWhere('user.username > :afterUsername', { afterUsername });
    return query.getMany();
  }

  /** Changes the settings given, keeps the others; the user as it is now, if it exists. */
  async updateSettings(id: string, changes: Partial<Pick<User, 'displayName' | 'shareReadReceipts' | 'sharePresence'>>): Promise<User | null> {
    const given = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
    if (Object.keys(given).length > 0) await this.users.update({ id }, given);
    return this.findById(id);
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

  /** Sets `last_seen_at` to now for every one of `ids`, in one statement. */
  async markSeen(ids: string[]): Promise<void> {
    await this.dataSource.query(`UPDATE users SET last_seen_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
  }

  /** Users by username, after `afterUsername`; `q` matches username or display name. */
  listForAdmin(filter: AdminUserFilter, limit: number): Promise<AdminUserRow[]> {
    const params: unknown[] = [limit];
    const conditions: string[] = [];
    if (filter.q) {
      conditions.push(`(u.username ILIKE $${params.push(containsPattern(filter.q))} OR u.display_name ILIKE $${params.length})`);
    }
    if (filter.role) conditions.push(`u.role = $${params.push(filter.role)}`);
    if (filter.active !== undefined) conditions.push(`u.active = $${params.push(filter.active)}`);
    if (filter.afterUsername !== undefined) conditions.push(`u.username > $${params.push(filter.afterUsername)}`);
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    return this.dataSource.query(`SELECT ${ADMIN_USER_COLUMNS} FROM users u ${where} ORDER BY u.username LIMIT $1`, params);
  }

  /**
   * Changes a user's role and/or activation as `callerId`, who must still be an active admin
   * when the change is made (checked under a lock, in the same transaction). Deactivating also
   * bumps token_version in the same UPDATE, so every token issued before stops working at once,
   * and deactivates the bots the user owns likewise, their tokens and webhooks gone: nobody
   * answers for a bot whose owner is gone. Reactivating the user leaves them so (an admin may
   * reactivate a bot; its owner then gives it a new token and webhook).
   */
  async changeRoleOrActivation(callerId: string, userId: string, change: { role?: Role; active?: boolean }): Promise<UserChangeResult> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock($1)`, [ADMIN_CHANGES_LOCK_KEY]);
      const [caller] = await manager.query(`SELECT 1 FROM users WHERE id = $1 AND role = 'admin' AND active`, [callerId]);
      if (!caller) return 'caller-not-admin';
      const [changed] = await manager.query(
        `WITH changed AS (
           UPDATE users
              SET role = coalesce($2::text, role),
                  active = coalesce($3::boolean, active),
                  token_version = token_version + CASE WHEN $3::boolean IS FALSE THEN 1 ELSE 0 END
            WHERE id = $1
           RETURNING id
         ) SELECT id FROM changed`,
        [userId, change.role ?? null, change.active ?? null],
      );
      if (!changed) return 'not-found';
      const bots: { id: string }[] =
        change.active === false
          ? await manager.query(
              // As BotsRepository.deactivate does to one bot: its token's session and its webhook go.
              `WITH stopped AS (UPDATE users SET active = false, token_version = token_version + 1 WHERE owner_id = $1 AND active RETURNING id),
                    sessions_ended AS (DELETE FROM sessions WHERE user_id IN (SELECT id FROM stopped)),
                    webhooks_removed AS (DELETE FROM webhooks WHERE bot_id IN (SELECT id FROM stopped)),
                    members_unmarked AS (UPDATE conversation_members SET webhook = false WHERE webhook AND user_id IN (SELECT id FROM stopped))
               SELECT id::text FROM stopped`,
              [userId],
            )
          : [];
      const [row] = await manager.query(`SELECT ${ADMIN_USER_COLUMNS} FROM users u WHERE u.id = $1`, [userId]);
      return { user: row as AdminUserRow, deactivatedBotIds: bots.map((bot) => bot.id) };
    });
  }

  /** An account's id, role, activation and password hash, by (lower-cased) username. */
  async findAccount(username: string): Promise<Account | undefined> {
    const rows = await this.dataSource.query(
      `SELECT id, role, active, password_hash AS "passwordHash" FROM users WHERE username = $1`,
      [username],
    );
    return rows[0];
  }

  /** Creates an admin; undefined if the username was taken in the meantime. */
  async insertAdmin(username: string, passwordHash: string): Promise<string | undefined> {
    const rows = await this.dataSource.query(
      `WITH created AS (
         INSERT INTO users (username, display_name, password_hash, role) VALUES ($1, $1, $2, 'admin')
         ON CONFLICT (username) DO NOTHING RETURNING id
       ) SELECT id FROM created`,
      [username, passwordHash],
    );
    return rows[0]?.id;
  }

  /**
   * Makes an existing account an active admin. With a new password hash, the password is
   * replaced and every token issued before is revoked.
   */
  async promoteAccount(id: string, newPasswordHash?: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE users
          SET role = 'admin', active = true,
              password_hash = coalesce($2::text, password_hash),
              token_version = token_version + CASE WHEN $2::text IS NULL THEN 0 ELSE 1 END
        WHERE id = $1`,
      [id, newPasswordHash ?? null],
    );
  }
}
