import { CONFIG_VARIABLES, type ConfigVariable } from './app-config.js';

export const CONFIG_TABLE_START = '<!-- config-table:start -->';
export const CONFIG_TABLE_END = '<!-- config-table:end -->';

/** A table cell: a `|` would end it, even inside a code span. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** The Markdown table of every environment variable, as docs/configuration.md shows it. */
export function renderConfigTable(variables: readonly ConfigVariable[] = CONFIG_VARIABLES): string {
  const rows = variables.map((v) => `| \`${v.name}\` | ${cell(v.default)} | ${cell(v.description)} |`);
  return ['| variable | default | what it does |', '|---|---|---|', ...rows].join('\n');
}

/** `markdown` with the text between the table's markers replaced by `table`. */
export function withConfigTable(markdown: string, table: string): string {
  const start = markdown.indexOf(CONFIG_TABLE_START);
  const end = markdown.indexOf(CONFIG_TABLE_END);
  if (start < 0 || end < start) throw new Error(`the page has no ${CONFIG_TABLE_START} … ${CONFIG_TABLE_END} markers`);
  return `${markdown.slice(0, start + CONFIG_TABLE_START.length)}\n${table}\n${markdown.slice(end)}`;
}
