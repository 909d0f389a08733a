import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The pages whose links are checked: the README, docs/ and the benchmark's pages. */
function pages(): string[] {
  const inDir = (dir: string) =>
    readdirSync(path.join(ROOT, dir))
      .filter((name) => name.endsWith('.md'))
      .map((name) => path.join(dir, name));
  return ['README.md', ...inDir('docs'), ...inDir('bench')];
}

/** The page without fenced code blocks and inline code, where brackets are not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens. */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link: its text
    .replace(/[`*]/g, '') // code spans and emphasis: their text
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor of a page: its headings' slugs (repeats numbered as GitHub does) and explicit ids. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, heading] of withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = githubSlug(heading);
    const count = seen.get(slug) ?? 0;
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
    seen.set(slug, count + 1);
  }
  for (const [, id] of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(id);
  return anchors;
}

/** The relative targets of a page's links, inline (`[text](target)`) and by reference (`[x]: target`). */
function relativeLinks(markdown: string): string[] {
  const text = prose(markdown);
  const targets = [
    ...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]),
  ];
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** What is wrong with one link of `page`, or undefined when it resolves. */
function brokenReason(page: string, target: string): string | undefined {
  const [file, anchor] = target.split('#', 2) as [string, string | undefined];
  const resolved = file === '' ? path.join(ROOT, page) : path.resolve(path.dirname(path.join(ROOT, page)), decodeURIComponent(file));
  if (!existsSync(resolved)) return `${path.relative(ROOT, resolved)} does not exist`;
  if (anchor === undefined || !resolved.endsWith('.md')) return undefined;
  if (!anchorsOf(readFileSync(resolved, 'utf8')).has(decodeURIComponent(anchor))) {
    return `${path.relative(ROOT, resolved)} has no heading with the anchor #${anchor}`;
  }
  return undefined;
}

describe('links between the documentation pages', () => {
  it('makes anchors as GitHub does', () => {
    expect(githubSlug('Catching up after being offline')).toBe('catching-up-after-being-offline');
    expect(githubSlug('`JWT_SECRET` and `ADMIN_PASSWORD`')).toBe('jwt_secret-and-admin_password');
    expect(githubSlug('Browsers: origins and headers')).toBe('browsers-origins-and-headers');
    expect(githubSlug('2026-12-03: the README’s section, moved (whole)')).toBe('2026-12-03-the-readmes-section-moved-whole');
    expect([...anchorsOf('# A\n## A\n```\n# not a heading\n```\n## A')]).toEqual(['a', 'a-1', 'a-2']);
  });

  it('finds links outside code only', () => {
    expect(relativeLinks('[a](docs/a.md) `[b](b.md)` [c](https://x.example) [d](#here)\n```\n[e](e.md)\n```\n[f]: f.md')).toEqual([
      'docs/a.md',
      '#here',
      'f.md',
    ]);
  });

  it.each(pages())('%s: every relative link and anchor leads somewhere', (page) => {
    const broken = relativeLinks(readFileSync(path.join(ROOT, page), 'utf8'))
      .map((target) => ({ target, reason: brokenReason(page, target) }))
      .filter(({ reason }) => reason !== undefined)
      .map(({ target, reason }) => `(${target}): ${reason}`);
    expect(broken).toEqual([]);
  });
});
