import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * Runs an ES-module script in a new Node process from the repository's root, so that it can
 * import the build (`./dist/src/...`) as the service runs it; `nodeArgs` go before the script.
 */
export function runModuleScript(script: string, nodeArgs: string[] = []) {
  return spawnSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
}
