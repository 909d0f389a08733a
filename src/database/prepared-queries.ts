import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';

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
export class PreparedQueries implements OnModuleInit {
  private pool?: Pool;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async onModuleInit(): Promise<void> {
    // Not on PGlite (the embedded server, or any PGlite behind a socket): its pooled connections
    // share one session, where a name one connection prepared collides when the next prepares it.
    const [{ version }] = await this.dataSource.query('SELECT version()');
    if (!String(version).includes('PGlite')) this.pool = (this.dataSource.driver as unknown as { master: Pool }).master;
  }

  async rows<T>(statement: PreparedStatement, values: unknown[]): Promise<T[]> {
    if (!this.pool) return this.dataSource.query(statement.text, values);
    const result = await this.pool.query({ name: statement.name, text: statement.text, values });
    return result.rows as T[];
  }
}
