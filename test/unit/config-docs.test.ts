import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/app-config.js';
import { renderConfigTable, withConfigTable } from '../../src/config/config-table.js';

const PAGE = path.resolve(import.meta.dirname, '../../docs/configuration.md');

describe('docs/configuration.md', () => {
  it('shows the table of environment variables generated from the configuration schema', () => {
    const page = readFileSync(PAGE, 'utf8');
    const current = withConfigTable(page, renderConfigTable());
    // toBe would print the whole page; the message says what to do.
    expect(current === page, 'docs/configuration.md is out of date with src/config/app-config.ts: run `npm run docs:config`').toBe(true);
  });

  it('lists each variable once', () => {
    const names = CONFIG_VARIABLES.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('names the variable whenever a value is refused', () => {
    // Every parser must name its variable when it refuses: the operator sees only that line.
    for (const { name } of CONFIG_VARIABLES) {
      try {
        loadConfig({ [name]: '\u0001not valid' });
      } catch (error) {
        expect((error as Error).message).toContain(name);
      }
    }
  });
});
