import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { PgliteSessionQueue } from './pglite-session-queue.js';

/**
 * The embedded PostgreSQL: PGlite (PostgreSQL compiled to WebAssembly) behind its wire-protocol
 * socket server, so that `pg` and TypeORM connect to it exactly as to a real server and the
 * same migrations run. It is for one instance: development, demos, trying Parley out. PGlite
 * runs one session for every connection, so transactions are serialised; production and
 * several instances want a real PostgreSQL through DATABASE_URL.
 */
export class EmbeddedPostgres {
  private readonly logger = new Logger(EmbeddedPostgres.name);
  private db?: PGlite;
  private server?: PGLiteSocketServer;

  constructor(
    private readonly dataDir: string,
    private readonly maxConnections: number,
  ) {}

  /** Opens (or creates) the database under dataDir and returns a connection URL for it. */
  async start(): Promise<string> {
    const directory = path.resolve(this.dataDir, 'pg');
    await mkdir(directory, { recursive: true });
    this.db = await PGlite.create(directory);
    // Port 0: the kernel picks a free loopback port, so several checkouts never collide.
    this.server = new PGLiteSocketServer({
      db: this.db,
      host: '127.0.0.1',
      port: 0,
      maxConnections: this.maxConnections,
    });
    // pglite-socket's own queue lets connections' statements interleave on the one session;
    // the handlers it creates per connection take the server's queue, so swap it before start.
    const server = this.server as unknown as { queryQueue?: unknown };
    if (!server.queryQueue) throw new Error('@electric-sql/pglite-socket changed: the session queue cannot be replaced');
    server.queryQueue = new PgliteSessionQueue(this.db);
    await this.server.start();
    const address = this.server.getServerConn();
    this.logger.log(`Embedded PostgreSQL in ${directory} (serving on ${address})`);
    return `postgres://postgres@${address}/postgres`;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    await this.db?.close();
    this.server = undefined;
    this.db = undefined;
  }
}
