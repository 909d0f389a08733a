import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const CLIENT_PACKAGE_DIR = path.join(root, 'packages', 'client');

/**
 * Builds packages/client (`npm run build -w @parley/client`) when its dist/ is missing or older
 * than its sources: the examples and the packed tarball run the built library, as its users do.
 * Tests that import it in-process use its sources (the `parley-source` condition).
 */
export async function ensureClientLibraryBuilt(): Promise<void> {
  const built = path.join(CLIENT_PACKAGE_DIR, 'dist', 'index.js');
  const sources = path.join(CLIENT_PACKAGE_DIR, 'src');
  const inputs = [
    path.join(CLIENT_PACKAGE_DIR, 'openapi.json'),
    path.join(CLIENT_PACKAGE_DIR, 'package.json'),
    path.join(CLIENT_PACKAGE_DIR, 'tsconfig.json'),
    ...readdirSync(sources, { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && !entry.parentPath.includes(`${path.sep}generated`))
      .map((entry) => path.join(entry.parentPath, entry.name)),
  ];
  if (existsSync(built)) {
    const at = statSync(built).mtimeMs;
    if (inputs.every((file) => statSync(file).mtimeMs <= at)) return;
  }
  await promisify(execFile)('npm', ['run', 'build', '-w', '@parley/client'], { cwd: root });
}
