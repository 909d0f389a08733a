import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
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
  private lockFile?: string;

  constructor(
    private readonly dataDir: string,
    private readonly maxConnections: number,
  ) {}

  /** Opens (or creates) the database under dataDir and returns a connection URL for it. */
  async start(): Promise<string> {
    const directory = path.resolve(this.dataDir, 'pg');
    await mkdir(directory, { recursive: true });
    await this.lock(path.resolve(this.dataDir, 'pg.lock'));
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
    if (this.lockFile) await rm(this.lockFile, { force: true });
    this.server = undefined;
    this.db = undefined;
    this.lockFile = undefined;
  }

  /**
   * PGlite has no lock of its own, and two processes writing one data directory corrupt it
   * (a second server, or `create-admin` while the server runs). A file holding the owner's pid
   * refuses the second; one left by a process that has died is taken over.
   */
  private async lock(file: string): Promise<void> {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(file, 'utf8')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
        throw new Error(
          `The embedded database in ${path.dirname(file)} is in use by process ${owner}: stop that process first, or set DATABASE_URL`,
        );
      }
      await writeFile(file, String(process.pid));
    }
    this.lockFile = file;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
