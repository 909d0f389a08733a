import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { User } from '../users/user.entity.js';

/** A bot row as the views need it. */
export type BotRow = Pick<User, 'id' | 'username' | 'displayName' | 'createdAt' | 'bot' | 'ownerId'>;

const BOT_COLUMNS = `u.id::text, u.username, u.display_name AS "displayName", u.created_at AS "createdAt", u.bot, u.owner_id::text AS "ownerId"`;

/** Not a scrypt hash: no password opens a bot's account, only its token. */
const NO_PASSWORD = '!bot';

/**
 * A bot token's session: never expires, never swept by its user's logins (those sweep ended
 * sessions, and bots do not log in).
 */
const TOKEN_SESSION = `INSERT INTO sessions (user_id, token_version, user_agent, expires_at)`;

/** Every statement on bots and `bot_tokens` but the lookup of a token (BotTokens). Tokens arrive as hashes. */
@Injectable()
export class BotsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Creates a bot of `ownerId` (who must be an active person) with its first token, in one
   * statement. Undefined when the owner may not own bots; throws a unique violation when the
   * username is taken.
   */
  async create(ownerId: string, username: string, displayName: string, tokenHash: string): Promise<BotRow | undefined> {
    const [row] = await this.dataSource.query(
      `WITH u AS (
         INSERT INTO users (username, display_name, password_hash, role, bot, owner_id)
         SELECT $2, $3, '${NO_PASSWORD}', 'user', true, o.id FROM users o WHERE o.id = $1 AND o.active AND NOT o.bot
         RETURNING *
       ), session AS (
         ${TOKEN_SESSION} SELECT id, token_version, 'bot token', 'infinity' FROM u RETURNING id, user_id
       ), token AS (
         INSERT INTO bot_tokens (bot_id, token_hash, session_id) SELECT user_id, $4, id FROM session
       )
       SELECT ${BOT_COLUMNS} FROM u`,
      [ownerId, username, displayName, tokenHash],
    );
    return row;
  }

  /** The owner's active bots, oldest first. */
  listOwned(ownerId: string): Promise<BotRow[]> {
    return this.dataSource.query(
      `SELECT ${BOT_COLUMNS} FROM users u WHERE u.owner_id = $1 AND u.bot AND u.active ORDER BY u.id`,
      [ownerId],
    );
  }

  /**
   * Gives the bot a new token and deletes the old one's session, which is what cuts it.
   * Undefined when `ownerId` has no active bot by that id. The old session's id is returned so
   * that its sockets can be closed.
   */
  rotateToken(ownerId: string, botId: string, tokenHash: string): Promise<{ oldSessionId: string } | undefined> {
    return this.dataSource.transaction(async (manager) => {
      const bot = await lockOwnedBot(manager, ownerId, botId);
      if (!bot) return undefined;
      const [session] = await manager.query(
        `${TOKEN_SESSION} VALUES ($1, $2, 'bot token', 'infinity') RETURNING id::text`,
        [botId, bot.tokenVersion],
      );
      const [old] = await manager.query(
        `WITH old AS (SELECT session_id FROM bot_tokens WHERE bot_id = $1),
              updated AS (UPDATE bot_tokens SET token_hash = $2, session_id = $3 WHERE bot_id = $1)
         SELECT session_id::text AS "oldSessionId" FROM old`,
        [botId, tokenHash, session.id],
      );
      await manager.query(`DELETE FROM sessions WHERE id = $1`, [old.oldSessionId]);
      return old;
    });
  }

  /**
   * Deactivates the bot and deletes its token (with its session) and whatever else it was
   * given; false when `ownerId` has no active bot by that id.
   */
  deactivate(ownerId: string, botId: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      if (!(await lockOwnedBot(manager, ownerId, botId))) return false;
      await manager.query(`UPDATE users SET active = false, token_version = token_version + 1 WHERE id = $1`, [botId]);
      await manager.query(`DELETE FROM sessions WHERE user_id = $1`, [botId]);
      await manager.query(`DELETE FROM webhooks WHERE bot_id = $1`, [botId]);
      await manager.query(`UPDATE conversation_members SET webhook = false WHERE user_id = $1 AND webhook`, [botId]);
      return true;
    });
  }
}

async function lockOwnedBot(manager: EntityManager, ownerId: string, botId: string): Promise<{ tokenVersion: number } | undefined> {
  const [bot] = await manager.query(
    `SELECT token_version AS "tokenVersion" FROM users WHERE id = $1 AND owner_id = $2 AND bot AND active FOR UPDATE`,
    [botId, ownerId],
  );
  return bot;
}
