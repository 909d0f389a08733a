import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionRegistry } from '../../src/notifications/connection-registry.js';
import { startApp, type TestApp } from '../support/app.js';
import { png } from '../support/attachments.js';
import { hasChromium, launchChromium, screenshot, watchCspViolations } from '../support/browser.js';
import { newDirect, newGroup, newUser, PASSWORD, send, type TestUser } from '../support/factories.js';

/**
 * The web client's typing indicator, presence and attachments, in real headless Chromium
 * against the real server: each user is a browser context of its own. Screenshots of each new
 * state, at desktop and phone sizes, go to test/artifacts/.
 */

/** Short, so that going offline is seen within the test; long enough to cover a reload. */
const GRACE_MS = 4_000;
/** Small, so that "too large" needs no 25 MiB upload. */
const MAX_BYTES = 1_000_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let app: TestApp;
let browser: Browser;
const contexts: BrowserContext[] = [];
const cspViolations: string[] = [];

interface Person {
  page: Page;
  context: BrowserContext;
  errors: string[];
}

const runBrowserTests = hasChromium || Boolean(process.env.CI);
if (!runBrowserTests) console.warn('web client tests skipped: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');

describe.runIf(runBrowserTests)('web client: typing, presence, attachments', () => {
  beforeAll(async () => {
    app = await startApp({ PRESENCE_OFFLINE_GRACE_MS: String(GRACE_MS), ATTACHMENT_MAX_BYTES: String(MAX_BYTES) });
    browser = await launchChromium();
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    expect(cspViolations.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** A user logged in through the form in a browser context of its own. */
  async function person(user: TestUser): Promise<Person> {
    const context = await browser.newContext({ viewport: DESKTOP });
    contexts.push(context);
    await watchCspViolations(context, cspViolations);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('dialog', (dialog) => void dialog.dismiss());
    await page.goto(app.url);
    await page.getByTestId('username').fill(user.username);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('login').click();
    await online(page);
    return { page, context, errors };
  }

  const online = (page: Page) => expect.poll(() => page.getByTestId('connection-state').textContent(), { timeout: 10_000 }).toBe('online');

  const conversationItem = (page: Page, conversationId: string) =>
    page.locator(`[data-testid="conversation"][data-conversation-id="${conversationId}"]`);

  async function openConversation(page: Page, conversationId: string): Promise<void> {
    await conversationItem(page, conversationId).click();
    await expect.poll(() => new URL(page.url()).hash).toBe(`#/c/${conversationId}`);
  }

  const shownBodies = (page: Page) =>
    page.$$eval('[data-testid="message"][data-seq] .message-body', (items) => items.map((item) => item.textContent));

  /** Screenshots at desktop and phone sizes, back at desktop size after. */
  async function screenshots(page: Page, name: string): Promise<void> {
    await screenshot(page, `${name}-desktop`);
    await page.setViewportSize(PHONE);
    await screenshot(page, `${name}-phone`);
    await page.setViewportSize(DESKTOP);
  }

  /** axe-core over the whole page: no serious or critical findings. */
  async function expectAccessible(page: Page, state: string): Promise<void> {
    if (!(await page.evaluate<boolean>("typeof window.axe === 'object'"))) await page.evaluate(axeSource);
    const findings = await page.evaluate<Array<{ id: string; impact: string; help: string; targets: string[] }>>(
      `axe.run(document, { resultTypes: ['violations'] }).then((results) => results.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) })))`,
    );
    expect(findings, state).toEqual([]);
  }

  // Code that runs in the page is passed as a string where it names browser globals: the
  // service's tsconfig, which checks the tests, has no DOM types.
  /** Makes a File in the page from base64 bytes: `file` is then in scope of `then`. */
  const fileInPage = (name: string, type: string, bytes: Buffer) =>
    `new File([Uint8Array.from(atob('${bytes.toString('base64')}'), (c) => c.charCodeAt(0))], ${JSON.stringify(name)}, { type: ${JSON.stringify(type)} })`;

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  describe('typing', () => {
    it("shows who is typing under the log, ends it when their message arrives or after 6 s, and says nothing for blank input", async () => {
      const [alice, bob, carol] = [await newUser(app, 'alice'), await newUser(app, 'bob'), await newUser(app, 'carol')];
      const directId = await newDirect(app, alice, bob);
      const groupId = await newGroup(app, alice, [bob, carol], 'Typists');
      await send(app, alice, groupId, 'welcome');
      const a = await person(alice);
      const b = await person(bob);
      await openConversation(a.page, directId);
      await openConversation(b.page, directId);
      const indicator = b.page.getByTestId('typing-indicator');
      expect(await indicator.textContent()).toBe('');
      expect(await indicator.getAttribute('aria-live')).toBe('polite');

      await a.page.getByTestId('composer').pressSequentially('see you at', { delay: 20 });
      await expect.poll(() => indicator.textContent(), { timeout: 5_000 }).toBe(`${alice.username} is typing…`);
      // Her own typing is not shown to her.
      expect(await a.page.getByTestId('typing-indicator').textContent()).toBe('');
      await screenshots(b.page, 'typing-indicator');
      await a.page.getByTestId('composer').pressSequentially(' noon');
      const lastKey = Date.now();
      await a.page.getByTestId('composer').press('Enter');
      await expect.poll(() => shownBodies(b.page)).toEqual(['see you at noon']);
      // Gone with her message, well before the 6 s a typing signal lasts.
      expect(await indicator.textContent()).toBe('');
      expect(Date.now() - lastKey).toBeLessThan(5_000);

      // In the group, two at once: Carol (through the API) and Alice.
      await openConversation(a.page, groupId);
      await openConversation(b.page, groupId);
      const carolTypes = await app.http().post(`/api/v1/conversations/${groupId}/typing`).set(carol.auth);
      expect(carolTypes.status).toBe(204);
      await expect.poll(() => indicator.textContent(), { timeout: 5_000 }).toBe(`${carol.username} is typing…`);
      await a.page.getByTestId('composer').pressSequentially('hm', { delay: 20 });
      await expect.poll(() => indicator.textContent(), { timeout: 5_000 }).toBe(`${carol.username} and ${alice.username} are typing…`);
      const lastSignal = Date.now();
      await screenshot(b.page, 'typing-two');
      // Nobody sends: each ends 6 s after their last signal.
      await expect.poll(() => indicator.textContent(), { timeout: 12_000, interval: 250 }).toBe('');
      expect(Date.now() - lastSignal).toBeGreaterThan(4_500);

      // Blank input tells nobody anything.
      await a.page.getByTestId('composer').fill('');
      await a.page.getByTestId('composer').pressSequentially('   ', { delay: 50 });
      await sleep(1_500);
      expect(await indicator.textContent()).toBe('');
      await expectAccessible(b.page, 'conversation with the typing line');
      expect([...a.errors, ...b.errors]).toEqual([]);
    }, 60_000);
  });

  describe('presence', () => {
    it('shows who is online in the list, the header and the member search, with "last seen"; a reload does not flicker', async () => {
      const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
      const directId = await newDirect(app, alice, bob);
      await send(app, alice, directId, 'are you around?');
      const a = await person(alice);
      const b = await person(bob);

      const item = conversationItem(b.page, directId);
      const dot = item.getByTestId('presence-dot');
      await expect.poll(() => dot.getAttribute('data-status'), { timeout: 10_000 }).toBe('online');
      // The button's accessible name is its text, which says so too (the dot alone is hidden from it).
      const named = b.page.getByRole('button', { name: new RegExp(`^${alice.username} ?, online .*are you around\\?.*, 1 unread$`) });
      expect(await named.getAttribute('data-conversation-id')).toBe(directId);
      await openConversation(b.page, directId);
      const status = b.page.getByTestId('presence-status');
      await expect.poll(() => status.textContent()).toBe('online');
      await screenshot(b.page, 'presence-online-desktop');
      await b.page.setViewportSize(PHONE);
      await screenshot(b.page, 'presence-online-phone-header');
      await b.page.getByRole('button', { name: 'Back to conversations' }).click();
      await screenshot(b.page, 'presence-online-phone-list');
      await b.page.setViewportSize(DESKTOP);
      await openConversation(b.page, directId);

      // The member search of a new group says who is online, in words too.
      await b.page.getByTestId('new-group').click();
      await b.page.getByTestId('member-search').fill(alice.username);
      const found = b.page.getByTestId('user-result').filter({ hasText: alice.username });
      await expect.poll(() => found.getByTestId('presence-dot').getAttribute('data-status')).toBe('online');
      // Named in words as well: the dot's text alternative is part of the button's name.
      expect(await b.page.locator('dialog').getByRole('button', { name: new RegExp(`^${alice.username}.*online$`) }).count()).toBe(1);
      await screenshot(b.page, 'presence-member-search');
      await found.click();
      expect(await b.page.locator('.chip [data-testid="presence-dot"]').getAttribute('aria-label')).toBe('online');
      await expectAccessible(b.page, 'group dialog with presence');
      await b.page.keyboard.press('Escape');
      await expect.poll(() => b.page.locator('dialog').count()).toBe(0);

      // Alice reloads: Bob's view of her never says offline meanwhile.
      await b.page.evaluate(`
        window.seen = [];
        window.watcher = setInterval(() => {
          const dot = document.querySelector('[data-conversation-id="${directId}"] [data-testid="presence-dot"]');
          window.seen.push(dot && !dot.hidden ? dot.dataset.status : 'none');
          window.seen.push(document.querySelector('[data-testid="presence-status"]').textContent);
        }, 50);`);
      await a.page.reload();
      await online(a.page);
      await sleep(GRACE_MS + 1_500);
      const seen = await b.page.evaluate<string[]>('clearInterval(window.watcher), window.seen');
      expect(seen.length).toBeGreaterThan(100);
      expect([...new Set(seen)]).toEqual(['online']);

      // Alice closes her page: offline after the grace, then "last seen".
      const closedAt = Date.now();
      await a.context.close();
      await expect.poll(() => dot.getAttribute('data-status'), { timeout: GRACE_MS + 10_000, interval: 200 }).toBe('offline');
      expect(Date.now() - closedAt).toBeGreaterThan(GRACE_MS - 1_000);
      await expect.poll(() => status.textContent()).toBe('last seen just now');
      expect(await dot.getAttribute('aria-label')).toBe('last seen just now');
      expect(await b.page.getByRole('button', { name: new RegExp(`^${alice.username} ?, offline `) }).getAttribute('data-conversation-id')).toBe(directId);
      await screenshot(b.page, 'presence-last-seen-desktop');
      await b.page.setViewportSize(PHONE);
      await screenshot(b.page, 'presence-last-seen-phone-header');
      await b.page.getByRole('button', { name: 'Back to conversations' }).click();
      await screenshot(b.page, 'presence-last-seen-phone-list');
      await b.page.setViewportSize(DESKTOP);
      await expectAccessible(b.page, 'conversation list with presence');

      // Alice comes back; then Bob's socket drops (as in a server restart) and, while he cannot
      // reconnect, Alice leaves again. Bob misses that news; reconnecting reads presence afresh.
      const a2 = await person(alice);
      await expect.poll(() => dot.getAttribute('data-status'), { timeout: 10_000 }).toBe('online');
      await b.page.route('**/api/v1/auth/ws-ticket', (route) => route.abort('connectionrefused'));
      app.app.get(ConnectionRegistry).disconnect(bob.id, 1012, 'service restart');
      await expect.poll(() => b.page.getByTestId('connection-state').textContent()).toBe('offline');
      await a2.context.close();
      await sleep(GRACE_MS + 1_000);
      expect(await dot.getAttribute('data-status')).toBe('online');
      await b.page.unroute('**/api/v1/auth/ws-ticket');
      await expect.poll(() => b.page.getByTestId('connection-state').textContent(), { timeout: 20_000 }).toBe('online');
      await expect.poll(() => dot.getAttribute('data-status'), { timeout: 10_000 }).toBe('offline');
      expect([...a.errors, ...b.errors]).toEqual([]);
    }, 90_000);
  });

  describe('attachments', () => {
    it('sends a pasted image and a chosen PDF; the other side sees them live, views the image, downloads the PDF', async () => {
      const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
      const directId = await newDirect(app, alice, bob);
      await send(app, bob, directId, 'send me the plan');
      const a = await person(alice);
      const b = await person(bob);
      await openConversation(a.page, directId);
      await openConversation(b.page, directId);
      const image = await png(640, 480);
      const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n'), randomBytes(40_000), Buffer.from('\n%%EOF\n')]);

      // Pasted into the composer.
      await a.page.getByTestId('composer').focus();
      await a.page.evaluate(`(() => {
        const data = new DataTransfer();
        data.items.add(${fileInPage('sunset.png', 'image/png', image)});
        document.querySelector('[data-testid="composer"]').dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      })()`);
      // Chosen through the Attach button's file input.
      const chooser = a.page.waitForEvent('filechooser');
      await a.page.getByRole('button', { name: 'Attach files' }).click();
      await (await chooser).setFiles({ name: 'plan.pdf', mimeType: 'application/pdf', buffer: pdf });
      const tray = a.page.getByTestId('attach-item');
      await expect.poll(() => tray.evaluateAll((items) => items.map((item) => item.getAttribute('data-state')))).toEqual(['done', 'done']);
      expect(await tray.locator('.attach-name').allTextContents()).toEqual(['sunset.png', 'plan.pdf']);
      expect(await a.page.getByRole('button', { name: 'Remove plan.pdf' }).count()).toBe(1);

      await a.page.getByTestId('composer').fill('the plan, and the view');
      await a.page.getByTestId('send').click();
      await expect.poll(() => tray.count()).toBe(0);

      // Bob sees it arrive, without a reload.
      const message = b.page.getByTestId('message').filter({ hasText: 'the plan, and the view' });
      const thumbnail = message.locator('img.attachment-thumbnail');
      await expect.poll(() => thumbnail.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), { timeout: 10_000 }).toBeGreaterThan(0);
      expect(await thumbnail.getAttribute('alt')).toBe('sunset.png');
      // Room kept before it loads: the image's own proportions, 240 px on the longer side.
      expect([await thumbnail.getAttribute('width'), await thumbnail.getAttribute('height')]).toEqual(['240', '180']);
      const link = message.getByTestId('attachment-file');
      expect(await link.textContent()).toBe('plan.pdf40 KB');
      const [download] = await Promise.all([b.page.waitForEvent('download'), link.click()]);
      expect(download.suggestedFilename()).toBe('plan.pdf');
      expect((await readFile(await download.path())).equals(pdf)).toBe(true);
      await screenshots(b.page, 'attachments-message');
      await screenshot(a.page, 'attachments-message-sender');

      // The image opens full size; Escape closes it and focus returns to the thumbnail.
      await message.getByRole('button', { name: 'View full size: sunset.png' }).click();
      const viewer = b.page.getByTestId('image-viewer');
      await expect.poll(() => viewer.locator('img').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(640);
      expect(await b.page.evaluate<string | undefined>('document.activeElement?.dataset.testid')).toBe('viewer-close');
      await screenshots(b.page, 'attachments-viewer');
      await expectAccessible(b.page, 'image viewer');
      await b.page.keyboard.press('Escape');
      await expect.poll(() => viewer.count()).toBe(0);
      expect(await b.page.evaluate<string | undefined>('document.activeElement?.dataset.testid')).toBe('attachment-image');
      await expectAccessible(b.page, 'message with attachments');

      // A signed URL that no longer works (as after an hour): the attachment is read once more
      // for fresh ones, and the thumbnail shows.
      let thumbnailRequests = 0;
      await b.page.route(/\/api\/v1\/attachments\/\d+\/thumbnail/, (route) =>
        ++thumbnailRequests === 1 ? route.fulfill({ status: 404, body: '' }) : route.continue(),
      );
      const attachmentReads: string[] = [];
      b.page.on('request', (request) => {
        if (/\/api\/v1\/attachments\/\d+$/.test(new URL(request.url()).pathname)) attachmentReads.push(request.url());
      });
      await b.page.reload();
      await online(b.page);
      await expect.poll(() => thumbnail.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), { timeout: 10_000 }).toBeGreaterThan(0);
      expect(thumbnailRequests).toBe(2);
      expect(attachmentReads).toHaveLength(1);
      expect([...a.errors, ...b.errors]).toEqual([]);
    }, 60_000);

    it('shows upload progress, cancels an upload, takes dropped files, and names a file that is too large', async () => {
      const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
      const directId = await newDirect(app, alice, bob);
      await send(app, bob, directId, 'anything to share?');
      const a = await person(alice);
      await openConversation(a.page, directId);
      const tray = a.page.getByTestId('attach-item');

      // Too large: refused by the server (413), named in the message, and not left in the tray.
      let chooser = a.page.waitForEvent('filechooser');
      await a.page.getByTestId('attach').click();
      await (await chooser).setFiles({ name: 'holiday-video.mov', mimeType: 'video/quicktime', buffer: randomBytes(MAX_BYTES + 200_000) });
      const error = a.page.getByTestId('attach-error');
      await expect.poll(() => error.textContent(), { timeout: 10_000 }).toBe('"holiday-video.mov" is too large to send (1.2 MB; the most is 1.0 MB).');
      expect(await error.getAttribute('role')).toBe('alert');
      expect(await tray.count()).toBe(0);
      await screenshots(a.page, 'attach-too-large');
      await expectAccessible(a.page, 'upload refused');

      // Dropped on the conversation.
      await a.page.evaluate(`(() => {
        const data = new DataTransfer();
        data.items.add(${fileInPage('notes.txt', 'text/plain', Buffer.from('remember the milk\n'))});
        const target = document.querySelector('.thread');
        target.dispatchEvent(new DragEvent('dragenter', { dataTransfer: data, bubbles: true, cancelable: true }));
        target.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
      })()`);
      await expect.poll(() => tray.getAttribute('data-state')).toBe('done');
      expect(await error.textContent()).toBe('');
      expect(await a.page.locator('.thread.drop-active').count()).toBe(0);
      await a.page.getByRole('button', { name: 'Remove notes.txt' }).click();
      expect(await tray.count()).toBe(0);

      // A slow upload shows its progress, and its button cancels it.
      const cdp = await a.context.newCDPSession(a.page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 64 * 1024 });
      chooser = a.page.waitForEvent('filechooser');
      await a.page.getByTestId('attach').click();
      await (await chooser).setFiles({ name: 'slides.pdf', mimeType: 'application/pdf', buffer: Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(700_000)]) });
      const progress = tray.locator('progress');
      await expect.poll(() => progress.evaluate((bar) => (bar as unknown as { value: number }).value), { timeout: 10_000 }).toBeGreaterThan(0);
      expect(await tray.getAttribute('data-state')).toBe('uploading');
      expect(await progress.getAttribute('aria-label')).toBe('Uploading slides.pdf');
      // Send waits for it.
      await a.page.getByTestId('composer').fill('slides coming');
      await a.page.getByTestId('composer').press('Enter');
      expect(await a.page.getByTestId('composer-error').textContent()).toBe('Wait until the files have uploaded, or take them out.');
      await screenshots(a.page, 'attach-progress');
      await expectAccessible(a.page, 'upload in progress');
      await a.page.getByRole('button', { name: 'Cancel upload of slides.pdf' }).click();
      expect(await tray.count()).toBe(0);
      expect(await a.page.getByTestId('attach-tray').isVisible()).toBe(false);
      expect(await a.page.evaluate<string | undefined>('document.activeElement?.dataset.testid')).toBe('composer');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await sleep(500);
      expect(await tray.count()).toBe(0);
      expect(await error.textContent()).toBe('');
      // With the tray empty, the text goes alone.
      await a.page.getByTestId('send').click();
      await expect.poll(() => shownBodies(a.page)).toEqual(['anything to share?', 'slides coming']);
      expect(a.errors).toEqual([]);
    }, 60_000);
  });
});
