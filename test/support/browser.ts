import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { WEB_CLIENT_DIR } from '../../src/web/web-client.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Debian's `chromium` package (`.ci/run` installs it); playwright's own browser downloads cannot work here. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);

/** Screenshots of each test's final state; git-ignored, kept by CI as artifacts. */
export const ARTIFACTS_DIR = path.join(root, 'test', 'artifacts');

/**
 * Builds the web client when web/dist is missing or older than its sources, so that `npm test`
 * from a fresh clone (which runs from source, without `npm run build`) serves the current page.
 */
export async function ensureWebClientBuilt(): Promise<void> {
  const index = path.join(WEB_CLIENT_DIR, 'index.html');
  const inputs = [
    path.join(root, 'web', 'index.html'),
    path.join(root, 'web', 'vite.config.ts'),
    ...listFiles(path.join(root, 'web', 'src')),
    // The page is built with @parley/client's sources.
    ...listFiles(path.join(root, 'packages', 'client', 'src')).filter((file) => !file.includes(`${path.sep}generated${path.sep}`)),
  ];
  if (existsSync(index)) {
    const built = statSync(index).mtimeMs;
    if (inputs.every((file) => statSync(file).mtimeMs <= built)) return;
  }
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  await promisify(execFile)(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
  });
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** Headless Chromium with what this closed network needs: no background connections of its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS_DIR, `${name}.png`) });
}

/**
 * Collects into `violations` every Content-Security-Policy violation in the context's pages:
 * the `securitypolicyviolation` events, and Chromium's console errors for them (a violation
 * reported before the page's listener exists is still seen there).
 */
export async function watchCspViolations(context: BrowserContext, violations: string[]): Promise<void> {
  await context.exposeBinding('reportCspViolation', (_source, text: string) => void violations.push(text));
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => window.reportCspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`))",
  );
  context.on('console', (message) => {
    if (message.type() === 'error' && message.text().includes('Content Security Policy')) violations.push(message.text());
  });
}
