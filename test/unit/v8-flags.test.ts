import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runModuleScript } from '../support/node-script.js';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * Runs a workload that V8 pretenures (objects of two literals, all kept) with V8 tracing its
 * pretenuring decisions, after importing the built flags module or not. Returns the trace.
 */
function pretenuringTrace(importFlags: boolean): string {
  const script = `
    ${importFlags ? "await import('./dist/src/common/hot-path/v8-flags.js');" : ''}
    const make = (i) => ({ id: i, tags: [i, i + 1] });
    const kept = [];
    for (let i = 0; i < 500_000; i++) kept.push(make(i));
    console.log('kept', kept.length);`;
  const result = runModuleScript(script, ['--trace-pretenuring', '--trace-pretenuring-statistics']);
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('kept 500000');
  return result.stdout;
}

describe('V8 flags of the server process', () => {
  it('turn allocation-site pretenuring off', () => {
    // Without the module, V8 weighs tenuring these sites (it decides "tenure" or, when the
    // collections fall otherwise on a busy machine, "maybe tenure"): the check below is live.
    expect(pretenuringTrace(false)).toMatch(/pretenuring: AllocationSite.*=> (maybe )?tenure$/m);
    expect(pretenuringTrace(true)).not.toContain('pretenuring');
  });

  it('are set by the first import of the server’s entry point, before anything else loads', () => {
    const main = readFileSync(path.join(root, 'dist/src/main.js'), 'utf8');
    const firstImport = main.match(/^import\s+['"][^'"]+['"]|^import\s.+?from\s+['"][^'"]+['"]/m)?.[0];
    expect(firstImport).toBe("import './common/hot-path/v8-flags.js'");
  });
});
