import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StartupError } from '../common/startup-error.js';

/**
 * The token signing secret of an instance on the embedded database with no JWT_SECRET: made
 * on its first start and kept beside its data (`DATA_DIR/jwt-secret`, readable by its owner
 * only), so that a restart, like the data, keeps everyone signed in.
 */
export function keptJwtSecret(dataDir: string): Promise<string> {
  return keptInDataDir(dataDir, 'jwt-secret', 'the token signing secret', () => randomBytes(32).toString('hex'));
}

/**
 * A secret made on first need by `make` (one line of text) and kept in `DATA_DIR/<name>`,
 * readable by its owner only; the same one on every later start.
 */
export async function keptInDataDir(dataDir: string, name: string, what: string, make: () => string): Promise<string> {
  try {
    return await keepSecret(dataDir, name, make);
  } catch (error) {
    // Not writable, or a file where a directory should be: the operator's to fix.
    throw new StartupError(`cannot keep ${what} in DATA_DIR (${path.resolve(dataDir)}): ${(error as Error).message}`);
  }
}

async function keepSecret(dataDir: string, name: string, make: () => string): Promise<string> {
  const file = path.resolve(dataDir, name);
  const kept = await readKept(file);
  if (kept) return kept;
  await mkdir(dataDir, { recursive: true });
  const secret = make();
  // Written whole under another name, then linked into place, which fails if the file is
  // there: of two first starts at once, the second takes the first's secret, never half of it.
  const draft = `${file}.${randomBytes(6).toString('hex')}`;
  await writeFile(draft, `${secret}\n`, { mode: 0o600 });
  try {
    await link(draft, file);
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const theirs = await readKept(file);
    if (theirs) return theirs;
    await rename(draft, file); // there, but empty
    return secret;
  } finally {
    await rm(draft, { force: true });
  }
}

async function readKept(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
