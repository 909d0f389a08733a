import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './processes.js';

const run = promisify(execFile);

/**
 * The directory of PostgreSQL's server binaries (`initdb`, `pg_ctl`): PG_BIN when set, else the
 * newest Debian-style `/usr/lib/postgresql/<version>/bin`. Undefined when there is none.
 */
export function postgresBinaries(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((version) => existsSync(path.join(root, version, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? path.join(root, versions[0], 'bin') : undefined;
}

export interface PostgresCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** Stops the server at once, as a crash would (`pg_ctl stop -m immediate`). */
  stop: () => Promise<void>;
  /** Starts it again on the same port and data directory. */
  start: () => Promise<void>;
  /** Stops the server if it runs and deletes the data directory. Safe to call twice. */
  destroy: () => Promise<void>;
}

/**
 * A PostgreSQL cluster of the test's own, on its own port and in its own data directory, so the
 * test can stop and restart it. `initdb` refuses to run as root, so as root (CI) the cluster
 * belongs to the `postgres` user and every server command runs as that user.
 */
export async function startPostgres(bin: string): Promise<PostgresCluster> {
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  // As root, under /tmp: the postgres user must be able to reach the directory (TMPDIR might not be).
  const dir = await mkdtemp(path.join(asRoot ? '/tmp' : tmpdir(), 'parley-pg-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const pg = (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args]) : run(path.join(bin, tool), args);
  try {
    if (asRoot) {
      const { stdout: user } = await run('id', ['-u', 'postgres']);
      const { stdout: group } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(user.trim()), Number(group.trim()));
    }
    await pg('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  // fsync off: the test kills the server, never the machine, and what the server wrote before
  // it died is in the kernel's page cache either way. The socket lives in the cluster's own
  // directory, so nothing here touches the machine's PostgreSQL.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const start = async () => {
    await pg('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', options, '-w', '-t', '60', 'start']);
  };
  const stop = async () => {
    await pg('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
  };
  try {
    await start();
  } catch (error) {
    await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    destroy: async () => {
      // Fails harmlessly when the server is not running.
      await stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
