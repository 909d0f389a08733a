import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { hasChromium, launchChromium, screenshot } from '../support/browser.js';
import { CLIENT_PACKAGE_DIR } from '../support/client-library.js';
import { newDirect, newUser, PASSWORD, send, uniqueName, type TestUser } from '../support/factories.js';

/**
 * Issue 33: what a developer gets from @parley/client, run as they would run it: the examples
 * in examples/ against a started server (the bot in Node, the page in headless Chromium), and
 * the packed tarball installed in an empty directory. All of them use the built library.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

let app: TestApp;
const temporary: string[] = [];

beforeAll(async () => {
  app = await startApp();
});

afterAll(async () => {
  await app?.close();
  for (const dir of temporary) await rm(dir, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

/** A conversation's bodies, oldest first, as `reader` sees it. */
async function bodies(reader: TestUser, conversationId: string): Promise<string[]> {
  const page = await app.http().get(`/api/v1/conversations/${conversationId}/messages`).query({ limit: 100 }).set(reader.auth);
  return (page.body.items as { body: string }[]).map((m) => m.body).reverse();
}

describe('examples/echo-bot.js', () => {
  const bots: ChildProcess[] = [];

  afterEach(() => {
    for (const bot of bots.splice(0)) bot.kill('SIGKILL');
  });

  /** Starts the bot; resolves once it says it is listening. */
  async function startBot(bot: { token: string }, stateFile: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['examples/echo-bot.js'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', PARLEY_URL: app.url, PARLEY_TOKEN: bot.token, PARLEY_STATE: stateFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    bots.push(child);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => {
        output += chunk;
        if (output.includes('listening as')) resolve();
      });
      child.stderr!.on('data', (chunk) => (output += chunk));
      child.once('exit', (code) => reject(new Error(`the bot exited with ${code}: ${output}`)));
    });
    return child;
  }

  it('is under 40 lines, answers messages, and after a restart answers what it missed, nothing twice', { timeout: 60_000 }, async () => {
    expect(readFileSync(path.join(root, 'examples/echo-bot.js'), 'utf8').trimEnd().split('\n').length).toBeLessThan(40);
    const alice = await newUser(app, 'alice');
    const made = await app.http().post('/api/v1/bots').set(alice.auth).send({ username: uniqueName('echo') });
    expect(made.status).toBe(201);
    const bot = { id: made.body.bot.id as string, token: made.body.token as string };
    const stateFile = path.join(await tempDir('parley-bot-'), 'state.json');
    let child = await startBot(bot, stateFile);

    // The first message to the bot creates the conversation: the bot sees it anyway.
    const first = await app.http().post('/api/v1/messages').set(alice.auth).send({ recipientId: bot.id, body: 'ping' });
    expect(first.status).toBe(201);
    const conversationId = first.body.conversationId as string;
    await expect.poll(() => bodies(alice, conversationId), { timeout: 15_000 }).toEqual(['ping', 'You said: ping']);

    const stopped = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await stopped;
    await send(app, alice, conversationId, 'while you were out');
    child = await startBot(bot, stateFile);
    await expect
      .poll(() => bodies(alice, conversationId), { timeout: 15_000 })
      .toEqual(['ping', 'You said: ping', 'while you were out', 'You said: while you were out']);
    await send(app, alice, conversationId, 'and now');
    await expect
      .poll(() => bodies(alice, conversationId), { timeout: 15_000 })
      .toEqual(['ping', 'You said: ping', 'while you were out', 'You said: while you were out', 'and now', 'You said: and now']);
  });
});

/** The `lastSeq` the page's IndexedDbStore holds for one conversation (see packages/client/src/indexeddb.ts). */
function storedLastSeq(page: Page, userId: string, conversationId: string): Promise<number | null> {
  // A string: the test code is type-checked without the DOM's types.
  return page.evaluate<number | null>(`new Promise((resolve, reject) => {
    const opening = indexedDB.open('parley-client');
    opening.onerror = () => reject(opening.error);
    opening.onsuccess = () => {
      const db = opening.result;
      if (!db.objectStoreNames.contains('cursors')) return resolve(null);
      const read = db.transaction('cursors').objectStore('cursors').get(${JSON.stringify([userId, conversationId])});
      read.onerror = () => reject(read.error);
      read.onsuccess = () => resolve(read.result ? read.result.cursor.lastSeq : null);
    };
  })`);
}

// CI installs Chromium (.ci/run) and must run this; elsewhere a missing browser skips it, loudly.
const runBrowserTests = hasChromium || Boolean(process.env.CI);

describe.runIf(runBrowserTests)('examples/browser', () => {
  let browser: Browser;
  let site: Server;
  let siteUrl: string;

  beforeAll(async () => {
    // Built as its users would build it (vite), against the built library.
    const out = await tempDir('parley-example-');
    await run(process.execPath, [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', 'examples/browser', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: root,
    });
    // Served from an origin of its own: the page talks to the API across origins.
    site = createServer(async (request, response) => {
      const file = path.join(out, new URL(request.url ?? '/', 'http://x').pathname.replace(/\/$/, '/index.html'));
      if (!file.startsWith(out)) return void response.writeHead(404).end();
      try {
        const body = await readFile(file);
        const type = file.endsWith('.html') ? 'text/html' : file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'application/octet-stream';
        response.writeHead(200, { 'content-type': type }).end(body);
      } catch {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.close(resolve));
  });

  it('logs in, shows messages as they arrive, answers, and after a reload shows only what arrived meanwhile', { timeout: 60_000 }, async () => {
    const [bob, alice] = [await newUser(app, 'bob'), await newUser(app, 'alice')];
    const conversationId = await newDirect(app, alice, bob);
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const url = `${siteUrl}/?server=${encodeURIComponent(app.url)}`;
    await page.goto(url);
    await page.locator('#username').fill(bob.username);
    await page.locator('#password').fill(PASSWORD);
    await page.locator('#login button').click();
    await expect.poll(() => page.locator('#state').textContent(), { timeout: 15_000 }).toBe('online');
    const shown = () => page.locator('#messages li').allTextContents();

    await send(app, alice, conversationId, 'hello page');
    await expect.poll(shown).toEqual([`${alice.id}: hello page`]);
    await page.locator('#body').fill('hello alice');
    await page.locator('#body').press('Enter');
    await expect.poll(() => bodies(alice, conversationId)).toEqual(['hello page', 'hello alice']);
    await expect.poll(shown).toEqual([`${alice.id}: hello page`, 'me: hello alice']);
    // The cursor is stored just after the message is shown; a tab closed in between would
    // show that message again (at least once, never lost). Leave once it is stored.
    await expect.poll(() => storedLastSeq(page, bob.id, conversationId)).toBe(2);

    // Away from the page (same tab: its session is in sessionStorage), then back.
    await page.goto('about:blank');
    await send(app, alice, conversationId, 'while the page was closed');
    await page.goto(url);
    await expect.poll(() => page.locator('#state').textContent(), { timeout: 15_000 }).toBe('online');
    await expect.poll(shown).toEqual([`${alice.id}: while the page was closed`]);
    await screenshot(page, 'client-example-page');
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('npm pack of @parley/client', () => {
  it('installs from its tarball in an empty directory, runs against a started server, and type-checks', { timeout: 240_000 }, async () => {
    const packed = await tempDir('parley-pack-');
    // Built by the global setup (npm run build -w @parley/client, what prepack runs).
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packed], { cwd: CLIENT_PACKAGE_DIR, maxBuffer: 16 * 1024 * 1024 });
    const [info] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
    const files = info.files.map((file) => file.path);
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/node.js', 'dist/indexeddb.js', 'openapi.json', 'package.json']));
    expect(files.filter((file) => file.startsWith('src/') || file.startsWith('test'))).toEqual([]);

    // An empty project; the dependencies come from npm's cache where it has them.
    const project = await tempDir('parley-user-');
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'a-user', private: true, type: 'module' }));
    const tarball = path.join(packed, info.filename);
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, 'ws@8.23.0', 'typescript@6.0.3', '@types/node@20.19.43'], {
      cwd: project,
    });

    await writeFile(
      path.join(project, 'script.js'),
      `import { ParleyClient, ParleyError } from '@parley/client/node';
const baseUrl = process.env.PARLEY_URL;
const name = (prefix) => prefix + Math.random().toString(16).slice(2, 10);
const alice = await ParleyClient.register({ baseUrl, username: name('alice_'), password: 'correct horse battery' });
const bob = await ParleyClient.register({ baseUrl, username: name('bob_'), password: 'correct horse battery' });
const received = new Promise((resolve) => bob.on('message', resolve));
await bob.connect();
const conversation = await alice.api.openDirect(bob.userId);
const stored = await alice.send(conversation.id, 'from a tarball').sent;
const message = await received;
const missing = await alice.api.message('999999999').catch((error) => error);
console.log(JSON.stringify({ seq: stored.seq, body: message.body, error: missing instanceof ParleyError ? missing.statusCode : null }));
alice.close();
bob.close();
`,
    );
    const result = await run(process.execPath, ['script.js'], { cwd: project, env: { PATH: process.env.PATH ?? '', PARLEY_URL: app.url } });
    expect(JSON.parse(result.stdout)).toEqual({ seq: 1, body: 'from a tarball', error: 404 });

    // The declarations hold up in a strict project that checks libraries too.
    await writeFile(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', target: 'ES2022', lib: ['ES2022', 'DOM'], types: ['node'], strict: true, noEmit: true, skipLibCheck: false },
        include: ['check.ts'],
      }),
    );
    await writeFile(
      path.join(project, 'check.ts'),
      `import { ParleyClient, ParleyError, type Message, type Conversation, type paths } from '@parley/client/node';
import { IndexedDbStore } from '@parley/client/indexeddb';
const client = new ParleyClient({ baseUrl: 'http://localhost:3000', token: 't', store: new IndexedDbStore() });
client.on('message', (message: Message) => message.seq + message.changeSeq);
const conversation: Promise<Conversation> = client.api.conversation('1');
const raw = client.raw.GET('/api/v1/conversations/{id}/messages', { params: { path: { id: '1' }, query: { after: 3 } } });
type SendBody = paths['/api/v1/messages']['post']['requestBody'];
export { conversation, raw, ParleyError, type SendBody };
`,
    );
    await run(process.execPath, [path.join(project, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project });
  });
});
