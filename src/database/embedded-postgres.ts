import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { StartupError } from '../common/startup-error.js';
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
  /** What this process wrote in the lock file: `<pid>@<host>`. */
  private readonly lockOwner = `${process.pid}@${hostname()}`;

  constructor(
    private readonly dataDir: string,
    private readonly maxConnections: number,
  ) {}

  /** Opens (or creates) the database under dataDir and returns a connection URL for it. */
  async start(): Promise<string> {
    const directory = path.resolve(this.dataDir, 'pg');
    try {
      await mkdir(directory, { recursive: true });
      await this.lock(path.resolve(this.dataDir, 'pg.lock'));
    } catch (error) {
      if (error instanceof StartupError) throw error;
      // Not writable, or a file where a directory should be: the operator's to fix.
      throw new StartupError(`cannot use DATA_DIR (${path.resolve(this.dataDir)}) for the embedded database: ${(error as Error).message}`);
    }
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
    // Only its own: a lock another process has since taken (see `lock`) stays.
    if (this.lockFile && (await readFile(this.lockFile, 'utf8').catch(() => '')) === this.lockOwner) {
      await rm(this.lockFile, { force: true });
    }
    this.server = undefined;
    this.db = undefined;
    this.lockFile = undefined;
  }

  /**
   * PGlite has no lock of its own, and two processes writing one data directory corrupt it
   * (a second server, or `create-admin` while the server runs). A file holding the owner's pid
   * and host refuses the second; one left by a process of this host that has died is taken
   * over. One from another host is refused whatever its pid: two containers on one volume
   * (each its own host, and each's server pid 1) cannot see each other's processes, and took
   * the lock from each other, both serving, acknowledged writes lost.
   */
  private async lock(file: string): Promise<void> {
    try {
      await writeFile(file, this.lockOwner, { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // An older lock holds the pid alone.
      const [pid, host = hostname()] = (await readFile(file, 'utf8')).trim().split('@');
      const owner = Number(pid);
      const elsewhere = host !== hostname();
      if (elsewhere || (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner))) {
        throw new StartupError(
          `the embedded database in ${path.dirname(file)} is in use by process ${owner}${elsewhere ? ` on host ${host}` : ''}: ` +
            `stop that process first, or set DATABASE_URL (if no Parley is running there, delete ${file})`,
        );
      }
      await writeFile(file, this.lockOwner);
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
