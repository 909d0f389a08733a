import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';

/** A statement that runs on every request of some kind; its name must be unique. */
export interface PreparedStatement {
  name: string;
  text: string;
}

/**
 * Runs the statements of the hot paths (authentication, send, read a message) as named
 * prepared statements straight on `pg`'s pool: each pooled connection parses and plans one
 * once instead of on every request, and TypeORM's per-query runner is skipped.
 */
@Injectable()
export class PreparedQueries {
  private readonly pool?: Pool;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    // Not on the embedded server: its pooled connections share PGlite's one session, where a
    // name one connection prepared collides when the next connection prepares it again.
    if (config.databaseUrl) this.pool = (dataSource.driver as unknown as { master: Pool }).master;
  }

  async rows<T>(statement: PreparedStatement, values: unknown[]): Promise<T[]> {
    if (!this.pool) return this.dataSource.query(statement.text, values);
    const result = await this.pool.query({ name: statement.name, text: statement.text, values });
    return result.rows as T[];
  }
}
