import { createHmac, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Caller } from '../common/caller/caller.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';

/** Bot tokens start so: never a JWT's start (`eyJ`), so one look tells the two apart. */
const BOT_TOKEN_PREFIX = 'pbt_';
const BOT_TOKEN_LENGTH = BOT_TOKEN_PREFIX.length + 43;

/**
 * Bot tokens never expire: their callers carry the last second of year 9999, which the socket's
 * expiry schedule (a map of one-second buckets) and `Date` both take.
 */
export const BOT_TOKEN_EXPIRES_AT = 253_402_300_799;

/** 256 random bits: a keyed fast hash is enough to store it by. */
export function newBotToken(): string {
  return BOT_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function isBotToken(token: string): boolean {
  return token.length === BOT_TOKEN_LENGTH && token.startsWith(BOT_TOKEN_PREFIX);
}

/**
 * Bot tokens as stored and looked up: HMAC-SHA256 with the server secret, so a leaked table
 * holds no usable tokens and cannot be checked against guesses without the secret either.
 */
@Injectable()
export class BotTokens {
  private readonly key: Buffer;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {
    this.key = Buffer.from(config.jwtSecret);
  }

  hash(token: string): string {
    return createHmac('sha256', this.key).update(token).digest('base64url');
  }

  /** The caller a token stands for (by the unique index on its hash), if it is current. */
  async findCaller(token: string): Promise<Caller | undefined> {
    const [row] = await this.dataSource.query(
      `SELECT t.bot_id::text AS id, u.token_version AS "tokenVersion", t.session_id::text AS "sessionId"
         FROM bot_tokens t JOIN users u ON u.id = t.bot_id AND u.active
        WHERE t.token_hash = $1`,
      [this.hash(token)],
    );
    return row && { ...row, expiresAt: BOT_TOKEN_EXPIRES_AT };
  }
}
