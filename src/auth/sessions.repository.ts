import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AuthUser, Caller } from '../common/caller/caller.js';

/** A session as its owner lists it. */
export interface SessionRow {
  id: string;
  createdAt: Date;
  lastUsedAt: Date;
  userAgent: string | null;
}

/** Who a rotated refresh token's session belongs to: what the next access token is issued for. */
export interface RotatedSession {
  sessionId: string;
  userId: string;
  tokenVersion: number;
}

/** An ended session and its user, whose sockets are then closed. */
export interface EndedSession {
  sessionId: string;
  userId: string;
}

/** A caller found current: its user's id, username and role. */
export type CurrentCaller = Omit<AuthUser, keyof Caller> & { id: string };

/**
 * Run for every authenticated request and socket, batched like sends (MessagesRepository):
 * each (user, token version, session) answered with the user if active at that version and
 * the session has not ended. Checking the user and the session in one statement costs no extra
 * round trip, so ending a session takes effect on the next request on every instance.
 */
const CURRENT_CALLERS = `SELECT r.item, u.id, u.username, u.role
  FROM unnest($1::bigint[], $2::integer[], $3::bigint[]) WITH ORDINALITY AS r (user_id, token_version, session_id, item)
  JOIN users u ON u.id = r.user_id AND u.active AND u.token_version = r.token_version
  JOIN sessions s ON s.id = r.session_id AND s.user_id = r.user_id AND s.ended_at IS NULL`;

/** How long an ended or idle-expired session is kept before a login of its user sweeps it. */
const KEEP_ENDED_DAYS = 7;

/**
 * Every statement on `sessions` and `refresh_tokens` (see the sessions migration). Tokens
 * arrive here as hashes.
 * Every write is wrapped in `WITH ... SELECT`: TypeORM answers a bare UPDATE with
 * `[rows, count]` rather than the rows.
 */
@Injectable()
export class SessionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The callers among `callers` whose user is active at their token version and whose session
   * is live, each with its place in `callers` (`item`, from 1).
   */
  findCurrentCallers(callers: readonly Caller[]): Promise<(CurrentCaller & { item: string })[]> {
    return this.dataSource.query(CURRENT_CALLERS, [
      callers.map((caller) => caller.id),
      callers.map((caller) => caller.tokenVersion),
      callers.map((caller) => caller.sessionId),
    ]);
  }

  /**
   * Opens a session with its first refresh token. The user's sessions that ended (or went idle)
   * a week ago are swept here, by index, so the table holds only its users' recent sessions.
   */
  async create(
    user: { id: string; tokenVersion: number },
    userAgent: string | null,
    refreshTokenHash: string,
    idleSeconds: number,
  ): Promise<string> {
    const [row] = await this.dataSource.query(
      `WITH swept AS (
         DELETE FROM sessions
          WHERE user_id = $1 AND coalesce(ended_at, expires_at) < now() - make_interval(days => ${KEEP_ENDED_DAYS})
       ), session AS (
         INSERT INTO sessions (user_id, token_version, user_agent, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $5))
         RETURNING id
       ), token AS (
         INSERT INTO refresh_tokens (token_hash, session_id) SELECT $4, id FROM session
       )
       SELECT id::text FROM session`,
      [user.id, user.tokenVersion, userAgent, refreshTokenHash, idleSeconds],
    );
    return row.id;
  }

  /**
   * Uses up a refresh token and issues its successor, in one statement: the row lock of the
   * UPDATE makes concurrent uses of one token serial, so exactly one finds it unused. Undefined
   * when the token is unknown or used up, or its session has ended, gone idle, or its user was
   * deactivated or had its tokens revoked.
   */
  async rotate(usedHash: string, nextHash: string, idleSeconds: number): Promise<RotatedSession | undefined> {
    const rows: RotatedSession[] = await this.dataSource.query(
      `WITH used AS (
         UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL RETURNING session_id
       ), session AS (
         UPDATE sessions s SET last_used_at = now(), expires_at = now() + make_interval(secs => $3)
           FROM used, users u
          WHERE s.id = used.session_id AND s.ended_at IS NULL AND s.expires_at > now()
            AND u.id = s.user_id AND u.active AND u.token_version = s.token_version
         RETURNING s.id, s.user_id, u.token_version
       ), issued AS (
         INSERT INTO refresh_tokens (token_hash, session_id) SELECT $2, id FROM session
       )
       SELECT id::text AS "sessionId", user_id::text AS "userId", token_version AS "tokenVersion" FROM session`,
      [usedHash, nextHash, idleSeconds],
    );
    return rows[0];
  }

  /**
   * Ends the session of a refresh token that was already used up: someone presented it again,
   * so it was copied. Undefined if the token is unknown or its session had already ended.
   */
  async endReplayed(tokenHash: string): Promise<EndedSession | undefined> {
    const rows: EndedSession[] = await this.dataSource.query(
      `WITH ended AS (
         UPDATE sessions SET ended_at = now()
          WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL)
            AND ended_at IS NULL
         RETURNING id, user_id
       ) SELECT id::text AS "sessionId", user_id::text AS "userId" FROM ended`,
      [tokenHash],
    );
    return rows[0];
  }

  /** Ends one of `userId`'s sessions; false if it has none by that id that is live. */
  async end(userId: string, sessionId: string): Promise<boolean> {
    const rows = await this.dataSource.query(
      `WITH ended AS (
         UPDATE sessions SET ended_at = now() WHERE id = $1 AND user_id = $2 AND ended_at IS NULL RETURNING id
       ) SELECT id FROM ended`,
      [sessionId, userId],
    );
    return rows.length > 0;
  }

  /** The user's live sessions, most recently used first. */
  list(userId: string): Promise<SessionRow[]> {
    return this.dataSource.query(
      `SELECT id::text, created_at AS "createdAt", last_used_at AS "lastUsedAt", user_agent AS "userAgent"
         FROM sessions
        WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now()
        ORDER BY last_used_at DESC, id DESC`,
      [userId],
    );
  }
}
