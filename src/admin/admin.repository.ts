import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Role } from '../users/user.entity.js';
import type { AdminMessageRow, AdminUserRow } from './admin.views.js';

const ADMIN_USER_COLUMNS = `
  u.id, u.username, u.display_name AS "displayName", u.created_at AS "createdAt", u.role, u.active,
  u.last_seen_at AS "lastSeenAt",
  (SELECT count(*) FROM messages m WHERE m.sender_id = u.id) AS "messageCount"`;

const ADMIN_MESSAGE_COLUMNS = `
  m.id, m.conversation_id AS "conversationId", m.seq, m.change_seq AS "changeSeq", m.sender_id AS "senderId",
  m.body, m.client_message_id AS "clientMessageId", m.created_at AS "createdAt",
  m.edited_at AS "editedAt", m.deleted_at AS "deletedAt", u.username AS "senderUsername"`;

// Serialises changes to roles and activation, so that two admins demoting each other at the
// same moment cannot both succeed. Any constant works; the migration lock uses another.
const ADMIN_CHANGES_LOCK_KEY = 7_261_978;

export interface UserFilter {
  q?: string;
  role?: Role;
  active?: boolean;
  afterUsername?: string;
}

export interface MessageFilter {
  q?: string;
  senderId?: string;
  conversationId?: string;
  from?: string;
  to?: string;
  beforeId?: string;
}

export type UserChangeResult = AdminUserRow | 'caller-not-admin' | 'not-found';

export interface Counts {
  users: string;
  conversations: string;
  messages: string;
  messagesLast24h: string;
}

/** The admin API's SQL: wide reads across users and conversations that no member route makes. */
@Injectable()
export class AdminRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Users by username, after `afterUsername`; `q` matches username or display name. */
  async listUsers(filter: UserFilter, limit: number): Promise<AdminUserRow[]> {
    const params: unknown[] = [limit];
    const conditions: string[] = [];
    if (filter.q) {
      const pattern = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      conditions.push(`(u.username ILIKE $${params.push(pattern)} OR u.display_name ILIKE $${params.length})`);
    }
    if (filter.role) conditions.push(`u.role = $${params.push(filter.role)}`);
    if (filter.active !== undefined) conditions.push(`u.active = $${params.push(filter.active)}`);
    if (filter.afterUsername !== undefined) conditions.push(`u.username > $${params.push(filter.afterUsername)}`);
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    return this.dataSource.query(
      `SELECT ${ADMIN_USER_COLUMNS} FROM users u ${where} ORDER BY u.username LIMIT $1`,
      params,
    );
  }

  async findUser(id: string): Promise<AdminUserRow | undefined> {
    const rows = await this.dataSource.query(`SELECT ${ADMIN_USER_COLUMNS} FROM users u WHERE u.id = $1`, [id]);
    return rows[0];
  }

  /**
   * Changes a user's role and/or activation as `callerId`, who must still be an active admin
   * when the change is made (checked under a lock, in the same transaction). Deactivating also
   * bumps token_version in the same UPDATE, so every token issued before stops working at once.
   */
  async changeUser(callerId: string, userId: string, change: { role?: Role; active?: boolean }): Promise<UserChangeResult> {
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
      const [row] = await manager.query(`SELECT ${ADMIN_USER_COLUMNS} FROM users u WHERE u.id = $1`, [userId]);
      return row as AdminUserRow;
    });
  }

  /** Messages newest first (by id), after the `beforeId` cursor; `q` is a full-text search. */
  async searchMessages(filter: MessageFilter, limit: number): Promise<AdminMessageRow[]> {
    const params: unknown[] = [limit];
    const conditions: string[] = [];
    // websearch_to_tsquery never fails on user input: quotes, "or" and "-word" have meaning,
    // anything else is taken as words. The GIN index on search_vector answers the match.
    if (filter.q) conditions.push(`m.search_vector @@ websearch_to_tsquery('simple', $${params.push(filter.q)})`);
    if (filter.senderId) conditions.push(`m.sender_id = $${params.push(filter.senderId)}`);
    if (filter.conversationId) conditions.push(`m.conversation_id = $${params.push(filter.conversationId)}`);
    if (filter.from) conditions.push(`m.created_at >= $${params.push(filter.from)}::timestamptz`);
    if (filter.to) conditions.push(`m.created_at < $${params.push(filter.to)}::timestamptz`);
    if (filter.beforeId) conditions.push(`m.id < $${params.push(filter.beforeId)}`);
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    return this.dataSource.query(
      `SELECT ${ADMIN_MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id
        ${where} ORDER BY m.id DESC LIMIT $1`,
      params,
    );
  }

  async counts(): Promise<Counts> {
    const [row] = await this.dataSource.query(
      `SELECT (SELECT count(*) FROM users) AS users,
              (SELECT count(*) FROM conversations) AS conversations,
              (SELECT count(*) FROM messages) AS messages,
              (SELECT count(*) FROM messages WHERE created_at > now() - interval '24 hours') AS "messagesLast24h"`,
    );
    return row;
  }

  /** An account's id, activation and password hash, by (lower-cased) username. */
  async findAccount(username: string): Promise<{ id: string; role: Role; active: boolean; passwordHash: string } | undefined> {
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
