import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderConfigTable, withConfigTable } from './config-table.js';

/**
 * `npm run docs:config`: writes the table of environment variables into
 * docs/configuration.md from CONFIG_VARIABLES (test/unit/config-docs.test.ts fails until it is).
 */
const page = path.resolve(process.cwd(), 'docs/configuration.md');
const before = readFileSync(page, 'utf8');
const after = withConfigTable(before, renderConfigTable());
if (after === before) {
  console.log(`${path.relative(process.cwd(), page)} is up to date`);
} else {
  writeFileSync(page, after);
  console.log(`${path.relative(process.cwd(), page)}: table of environment variables rewritten`);
}
