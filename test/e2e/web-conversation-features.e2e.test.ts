import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { hasChromium, launchChromium, screenshot, watchCspViolations } from '../support/browser.js';
import { newDirect, newGroup, PASSWORD, send, testUser, uniqueName, type TestUser } from '../support/factories.js';

/**
 * The web client's conversation features (issue 29) in real headless Chromium, two or three
 * people each in their own browser context against the real server: message menus and
 * reactions, replies and threads, pins, mentions, search, "Seen by", list previews, group
 * management and settings. Each new state is screenshotted at 1280×800 and 390×844, and
 * axe-core checks the pages with each panel open.
 */

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let app: TestApp;
let browser: Browser;
const contexts: BrowserContext[] = [];
const cspViolations: string[] = [];
const pageErrors: string[] = [];

const runBrowserTests = hasChromium || Boolean(process.env.CI);
if (!runBrowserTests) console.warn('web conversation feature tests skipped: no Chromium');

describe.runIf(runBrowserTests)('web client: conversation features', () => {
  beforeAll(async () => {
    app = await startApp();
    browser = await launchChromium();
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    expect(cspViolations.splice(0)).toEqual([]);
    expect(pageErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** A user made with the API, with a display name that differs from the username. */
  async function user(prefix: string, displayName: string): Promise<TestUser> {
    const username = uniqueName(prefix);
    const response = await app.http().post('/api/v1/auth/register').send({ username, password: PASSWORD, displayName });
    expect(response.status).toBe(201);
    return testUser(username, response.body);
  }

  /** A browser of its own, logged in through the form as `who` (on a touch phone with `touch`). */
  async function pageOf(who: TestUser, viewport = DESKTOP, touch = false): Promise<Page> {
    const context = await browser.newContext({ viewport, ...(touch ? { hasTouch: true, isMobile: true } : {}) });
    contexts.push(context);
    await watchCspViolations(context, cspViolations);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('dialog', (dialog) => void dialog.dismiss());
    await page.goto(app.url);
    await page.getByTestId('username').fill(who.username);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('login').click();
    await expect.poll(() => page.getByTestId('connection-state').textContent(), { timeout: 10_000 }).toBe('online');
    return page;
  }

  const conversationItem = (page: Page, id: string) => page.locator(`[data-testid="conversation"][data-conversation-id="${id}"]`);
  const message = (page: Page, seq: number) => page.locator(`[data-testid="message"][data-seq="${seq}"]`);
  const openId = (page: Page) => new URL(page.url()).hash.replace('#/c/', '');

  async function open(page: Page, id: string): Promise<void> {
    await expect.poll(() => conversationItem(page, id).count(), { timeout: 10_000 }).toBe(1);
    await conversationItem(page, id).click();
    await expect.poll(() => openId(page)).toBe(id);
  }

  async function openMenu(page: Page, seq: number): Promise<void> {
    await message(page, seq).hover();
    await message(page, seq).getByTestId('message-menu-button').click();
    await message(page, seq).getByRole('menu').waitFor();
  }

  /** Screenshots at desktop and phone size, then back to desktop. */
  async function shots(page: Page, name: string): Promise<void> {
    await page.setViewportSize(DESKTOP);
    await screenshot(page, `${name}-desktop`);
    await page.setViewportSize(PHONE);
    await screenshot(page, `${name}-phone`);
    await page.setViewportSize(DESKTOP);
  }

  /** axe-core's serious and critical findings on the page as it is. */
  async function axeFindings(page: Page): Promise<string[]> {
    await page.evaluate(axeSource);
    return page.evaluate<string[]>(
      "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))",
    );
  }

  async function sendApi(from: TestUser, conversationId: string, body: string, extra: Record<string, unknown> = {}) {
    const response = await app.http().post('/api/v1/messages').set(from.auth).send({ conversationId, body, ...extra });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body as { id: string; seq: number };
  }

  it('shows reactions, replies, pins and mentions live, from a menu on each message', async () => {
    const alice = await user('alice', 'Alice Liddell');
    const bob = await user('bob', 'Bob Builder');
    const id = await newDirect(app, alice, bob);
    await send(app, bob, id, 'lunch at noon? https://example.com/menu.');
    const a = await pageOf(alice);
    const b = await pageOf(bob);
    await open(a, id);
    await open(b, id);

    // No Edit or Delete buttons under messages any more: one menu button per message.
    expect(await a.getByTestId('edit').count()).toBe(0);
    const link = message(a, 1).locator('.message-body a');
    expect(await link.getAttribute('href')).toBe('https://example.com/menu');
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer');
    expect(await link.getAttribute('target')).toBe('_blank');

    await openMenu(a, 1);
    expect(await message(a, 1).getByRole('menuitem').allTextContents()).toEqual(['Reply', 'Pin', 'Copy text']);
    expect(await message(a, 1).getByTestId('message-menu-button').getAttribute('aria-expanded')).toBe('true');
    expect(await axeFindings(a)).toEqual([]);
    await shots(a, 'features-menu');
    // Escape closes it and gives focus back to its button.
    await a.keyboard.press('Escape');
    await expect.poll(() => message(a, 1).getByRole('menu').count()).toBe(0);
    expect(await a.evaluate<string | undefined>('document.activeElement?.dataset.testid')).toBe('message-menu-button');

    // React: Bob sees Alice's 👍, adds his own by clicking the chip; both see 2.
    await openMenu(a, 1);
    await message(a, 1).getByRole('menuitemcheckbox', { name: 'React 👍' }).click();
    const bobChip = message(b, 1).getByTestId('reaction');
    await expect.poll(() => bobChip.textContent(), { timeout: 10_000 }).toBe('👍1');
    expect(await bobChip.getAttribute('aria-pressed')).toBe('false');
    await expect.poll(() => message(a, 1).getByTestId('reaction').getAttribute('aria-pressed')).toBe('true');
    await bobChip.click();
    await expect.poll(() => message(a, 1).getByTestId('reaction').textContent()).toBe('👍2');
    await expect.poll(() => bobChip.getAttribute('aria-pressed')).toBe('true');
    // Who reacted: named in the chip's tooltip.
    await message(a, 1).getByTestId('reaction').hover();
    await expect.poll(() => message(a, 1).getByTestId('reaction').getAttribute('title')).toMatch(/Alice Liddell.*Bob Builder|Bob Builder.*Alice Liddell/);
    await shots(b, 'features-reactions');

    // Reply: the reply quotes the message; the root counts its replies.
    await openMenu(a, 1);
    await message(a, 1).getByRole('menuitem', { name: 'Reply' }).click();
    expect(await a.getByTestId('reply-bar').textContent()).toContain('lunch at noon?');
    await a.getByTestId('composer').fill('yes, 12:30');
    await a.getByTestId('composer').press('Enter');
    await expect.poll(() => message(b, 2).getByTestId('quote').textContent(), { timeout: 10_000 }).toContain('lunch at noon?');
    await expect.poll(() => message(b, 1).getByTestId('thread-link').textContent()).toBe('1 reply');
    expect(await a.getByTestId('reply-bar').isHidden()).toBe(true);

    // Pin: Bob pins Alice's reply; Alice sees it marked.
    await openMenu(b, 2);
    await message(b, 2).getByRole('menuitem', { name: 'Pin' }).click();
    await expect.poll(() => message(a, 2).getByTestId('pinned-mark').count(), { timeout: 10_000 }).toBe(1);

    // Mention: @ completes Bob's username from his display name; Bob sees it marked as his.
    await a.getByTestId('composer').fill('see you there @Bui');
    await a.getByTestId('mention-list').waitFor();
    expect(await a.getByTestId('mention-option').allTextContents()).toEqual([`BBob Builder@${bob.username}`]);
    expect(await a.getByTestId('composer').getAttribute('aria-activedescendant')).toBe('mention-option-0');
    expect(await axeFindings(a)).toEqual([]);
    await shots(a, 'features-mention-completion');
    await a.getByTestId('composer').press('Enter');
    expect(await a.getByTestId('composer').inputValue()).toBe(`see you there @${bob.username} `);
    await a.getByTestId('composer').press('Enter');
    await expect.poll(() => message(b, 3).locator('.mention-me').textContent(), { timeout: 10_000 }).toBe(`@${bob.username}`);
    expect(await message(a, 3).locator('.mention').textContent()).toBe(`@${bob.username}`);

    // Editing a message to nothing says why it is refused.
    await openMenu(a, 3);
    await message(a, 3).getByTestId('edit').click();
    await message(a, 3).getByTestId('edit-input').fill('   ');
    await message(a, 3).getByTestId('edit-input').press('Enter');
    expect(await message(a, 3).getByRole('alert').textContent()).toMatch(/cannot be empty/);
    expect(await message(a, 3).getByTestId('edit-input').isVisible()).toBe(true);
  });

  it('opens the message menu with a tap on a touch screen, as a sheet at the bottom', async () => {
    const alice = await user('alice', 'Alice Liddell');
    const bob = await user('bob', 'Bob Builder');
    const id = await newDirect(app, alice, bob);
    await send(app, bob, id, 'tap me');
    const a = await pageOf(alice, PHONE, true);
    await open(a, id);
    // No hover on a touch screen: the menu button is out of sight until focused.
    const menuButton = message(a, 1).getByTestId('message-menu-button');
    await expect.poll(async () => ((await menuButton.boundingBox())?.width ?? 0) <= 1).toBe(true);
    await message(a, 1).locator('.bubble').tap();
    const menu = message(a, 1).getByRole('menu');
    await menu.waitFor();
    const box = await menu.boundingBox();
    expect(Math.round(box!.y + box!.height)).toBe(PHONE.height);
    await message(a, 1).getByRole('menuitem', { name: 'Reply' }).tap();
    expect(await a.getByTestId('reply-bar').textContent()).toContain('tap me');
    await screenshot(a, 'features-touch-reply-phone');
  });

  it('opens a thread beside the conversation, live for both, and jumps to a pinned message far back', async () => {
    const alice = await user('alice', 'Alice Liddell');
    const bob = await user('bob', 'Bob Builder');
    const id = await newDirect(app, alice, bob);
    const first = await sendApi(alice, id, 'the pinned plan: meet at the lighthouse');
    for (let i = 2; i <= 40; i++) await send(app, alice, id, `message ${i}`);
    const root = await sendApi(alice, id, 'who brings the snacks?');
    await sendApi(bob, id, 'I can', { replyToId: root.id });
    expect((await app.http().put(`/api/v1/conversations/${id}/pins/${first.id}`).set(bob.auth)).status).toBe(204);

    const a = await pageOf(alice);
    const b = await pageOf(bob);
    for (const page of [a, b]) {
      await open(page, id);
      await message(page, root.seq).getByTestId('thread-link').click();
      await expect.poll(() => page.getByTestId('thread-message').count(), { timeout: 10_000 }).toBe(2);
    }
    // Focus moves into the panel.
    expect(await b.evaluate<string | undefined>('document.activeElement?.id')).toBe('side-panel-title');
    await b.getByTestId('thread-composer').fill('and I bring drinks');
    await b.getByTestId('thread-composer').press('Enter');
    // Alice sees the reply in her open thread, and in the conversation with its quote.
    await expect.poll(() => a.getByTestId('thread-message').count(), { timeout: 10_000 }).toBe(3);
    expect(await a.getByTestId('thread-message').last().textContent()).toContain('and I bring drinks');
    await expect.poll(() => message(a, root.seq).getByTestId('thread-link').textContent()).toBe('2 replies');
    expect(await message(a, root.seq + 2).getByTestId('quote').textContent()).toContain('who brings the snacks?');
    expect(await axeFindings(a)).toEqual([]);
    await shots(a, 'features-thread-panel');
    await a.keyboard.press('Escape');
    await expect.poll(() => a.getByTestId('thread-panel').count()).toBe(0);

    // The pinned message is older than the first page: the jump loads history back to it.
    expect(await message(b, 1).count()).toBe(0);
    await b.getByTestId('pins-button').click();
    await expect.poll(() => b.getByTestId('pin-item').allTextContents(), { timeout: 10_000 }).toEqual([
      expect.stringContaining('the pinned plan: meet at the lighthouse'),
    ]);
    expect(await axeFindings(b)).toEqual([]);
    await shots(b, 'features-pins-panel');
    await b.getByTestId('pin-item').click();
    await expect.poll(() => message(b, 1).getAttribute('data-highlight'), { timeout: 10_000 }).toBe('true');
    expect(await message(b, 1).isVisible()).toBe(true);
    // In view, not just in the page.
    const box = await message(b, 1).boundingBox();
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.y + box!.height).toBeLessThanOrEqual(DESKTOP.height);
  });

  it('searches all conversations and opens the conversation at the message found', async () => {
    const alice = await user('alice', 'Alice Liddell');
    const bob = await user('bob', 'Bob Builder');
    const id = await newDirect(app, alice, bob);
    const groupId = await newGroup(app, alice, [bob], 'Fruit club');
    await send(app, alice, groupId, 'nothing to see');
    await send(app, alice, id, 'the pineapple recipe is in the blue book');
    for (let i = 2; i <= 40; i++) await send(app, alice, id, `chatter ${i}`);

    const b = await pageOf(bob);
    await b.getByTestId('message-search').fill('pineapple');
    await expect.poll(() => b.getByTestId('search-result').count(), { timeout: 10_000 }).toBe(1);
    const result = b.getByTestId('search-result');
    expect(await result.locator('.panel-item-name').textContent()).toBe('Alice Liddell');
    expect(await result.locator('.search-sender').textContent()).toBe('Alice Liddell');
    expect(await result.locator('mark').textContent()).toBe('pineapple');
    expect(await result.locator('.panel-item-text').textContent()).toBe('the pineapple recipe is in the blue book');
    expect(await axeFindings(b)).toEqual([]);
    await shots(b, 'features-search-results');
    // Down from the box to the result, Up back to the box.
    const focused = () => b.evaluate<string | undefined>('document.activeElement?.dataset.testid');
    await b.getByTestId('message-search').press('ArrowDown');
    expect(await focused()).toBe('search-result');
    await b.keyboard.press('ArrowUp');
    expect(await focused()).toBe('message-search');
    await result.click();
    await expect.poll(() => openId(b)).toBe(id);
    await expect.poll(() => message(b, 1).getAttribute('data-highlight'), { timeout: 10_000 }).toBe('true');
    expect(await message(b, 1).getByTestId('message-body').textContent()).toBe('the pineapple recipe is in the blue book');
  });

  it('shows "Seen" and "Seen by" under my last message as others read it', async () => {
    const alice = await user('alice', 'Alice Liddell');
    const bob = await user('bob', 'Bob Builder');
    const carol = await user('carol', 'Carol Danvers');
    const id = await newDirect(app, alice, bob);
    const groupId = await newGroup(app, alice, [bob, carol], 'Trip');
    const a = await pageOf(alice);
    await open(a, id);
    await a.getByTestId('composer').fill('are you coming?');
    await a.getByTestId('composer').press('Enter');
    await expect.poll(() => message(a, 1).count()).toBe(1);
    expect(await a.getByTestId('seen-by').count()).toBe(0);

    const b = await pageOf(bob);
    await open(b, id);
    await expect.poll(() => message(a, 1).getByTestId('seen-by').textContent(), { timeout: 10_000 }).toBe('Seen');

    await open(a, groupId);
    await a.getByTestId('composer').fill('tickets booked');
    await a.getByTestId('composer').press('Enter');
    await expect.poll(() => message(a, 1).count()).toBe(1);
    await open(b, groupId);
    await expect.poll(() => message(a, 1).getByTestId('seen-by').textContent(), { timeout: 10_000 }).toBe('Seen by Bob Builder');
    expect(await app.http().post(`/api/v1/conversations/${groupId}/read`).set(carol.auth).send({ seq: 1 }).then((r) => r.status)).toBe(204);
    await expect.poll(() => message(a, 1).getByTestId('seen-by').textContent(), { timeout: 10_000 }).toBe('Seen by Bob Builder, Carol Danvers');
    await shots(a, 'features-seen-by');
  });

  it('lists conversations with the last message, bold while unread, mentions counted, one Tab stop', async () => {
    const alice = await user('alice', 'Alice Liddell');
    const bob = await user('bob', 'Bob Builder');
    const id = await newDirect(app, alice, bob);
    const groupId = await newGroup(app, alice, [bob], 'Book club');
    const b = await pageOf(bob);
    await expect.poll(() => conversationItem(b, groupId).count(), { timeout: 10_000 }).toBe(1);

    await send(app, alice, id, 'did you finish the book?');
    await send(app, alice, groupId, `@${bob.username} your turn to pick`);
    const preview = (conversationId: string) => conversationItem(b, conversationId).getByTestId('conversation-preview');
    await expect.poll(() => preview(id).textContent(), { timeout: 10_000 }).toBe('did you finish the book?');
    await expect.poll(() => preview(groupId).textContent()).toBe(`Alice Liddell: @${bob.username} your turn to pick`);
    const weight = (conversationId: string) =>
      b.evaluate<number>(`Number(getComputedStyle(document.querySelector('[data-conversation-id="${conversationId}"] [data-testid="conversation-preview"]')).fontWeight)`);
    expect(await weight(id)).toBeGreaterThanOrEqual(700);
    await expect.poll(() => conversationItem(b, groupId).getByTestId('mention-count').count()).toBe(1);
    // The accessible name holds the visible text (axe's label-content-name-mismatch).
    expect(await conversationItem(b, groupId).getAttribute('aria-label')).toBeNull();
    expect(await axeFindings(b)).toEqual([]);
    await shots(b, 'features-conversation-list');

    // One Tab stop; arrow keys move through the list.
    expect(await b.locator('[data-testid="conversation"][tabindex="0"]').count()).toBe(1);
    await conversationItem(b, groupId).focus();
    await b.keyboard.press('ArrowDown');
    expect(await b.evaluate<string | undefined>('document.activeElement?.dataset.conversationId')).toBe(id);
    expect(await b.locator('[data-testid="conversation"][tabindex="0"]').count()).toBe(1);

    // Read: no longer bold; a system message shows as a sentence.
    await b.keyboard.press('Enter');
    await expect.poll(() => openId(b)).toBe(id);
    await expect.poll(() => weight(id)).toBeLessThan(700);
    expect((await app.http().patch(`/api/v1/conversations/${groupId}`).set(alice.auth).send({ title: 'Reading club' })).status).toBe(200);
    await expect.poll(() => preview(groupId).textContent(), { timeout: 10_000 }).toBe('Alice Liddell renamed the group to “Reading club”');
  });

  it('manages a group from its info panel; members see the changes as notes', async () => {
    const alice = await user('alice', 'Alice Liddell');
    const bob = await user('bob', 'Bob Builder');
    const carol = await user('carol', 'Carol Danvers');
    const groupId = await newGroup(app, alice, [bob, carol], 'Band');
    await send(app, bob, groupId, 'first rehearsal friday');
    const a = await pageOf(alice);
    const b = await pageOf(bob);
    await open(a, groupId);
    await open(b, groupId);
    // In a group, senders are named with their username too.
    await expect.poll(() => message(a, 1).locator('.username').textContent()).toBe(`@${bob.username}`);

    await a.getByTestId('group-info-button').click();
    await expect.poll(() => a.getByTestId('member').count()).toBe(3);
    expect(await a.getByTestId('member').first().textContent()).toContain('Owner');
    await a.getByTestId('group-rename-input').fill('The Band');
    await a.getByTestId('group-rename').click();
    await expect.poll(() => b.locator('.thread-title').textContent(), { timeout: 10_000 }).toBe('The Band');
    await expect.poll(() => b.getByTestId('system-note').allTextContents()).toEqual(['Alice Liddell renamed the group to “The Band”']);

    await a.getByRole('button', { name: 'Remove Carol Danvers' }).click();
    await expect.poll(() => a.getByTestId('member').count(), { timeout: 10_000 }).toBe(2);
    await expect.poll(() => b.getByTestId('system-note').allTextContents(), { timeout: 10_000 }).toEqual([
      'Alice Liddell renamed the group to “The Band”',
      'Alice Liddell removed Carol Danvers',
    ]);
    expect(await axeFindings(a)).toEqual([]);
    await shots(a, 'features-group-info');

    // Bob is no owner: no rename, no remove; he can leave.
    await b.getByTestId('group-info-button').click();
    await expect.poll(() => b.getByTestId('member').count()).toBe(2);
    expect(await b.getByTestId('group-rename-input').isVisible()).toBe(false);
    expect(await b.getByTestId('remove-member').count()).toBe(0);
    await b.getByTestId('leave-group').click();
    await b.getByTestId('leave-group').click();
    await expect.poll(() => conversationItem(b, groupId).count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => a.getByTestId('system-note').last().textContent(), { timeout: 10_000 }).toBe('Bob Builder left the group');
  });

  it('keeps the display name and privacy settings (GET /users/me), and explains a short password', async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    contexts.push(context);
    await watchCspViolations(context, cspViolations);
    const login = await context.newPage();
    await login.goto(app.url);
    expect(await axeFindings(login)).toEqual([]);
    await login.getByTestId('username').fill(uniqueName('short'));
    await login.getByTestId('password').fill('abc');
    await login.getByTestId('register').click();
    await expect.poll(() => login.locator('.form-error').textContent()).toBe('The password must be at least 8 characters long (and at most 128).');

    const alice = await user('alice', 'Alice Liddell');
    const a = await pageOf(alice);
    // The chat page has one h1.
    expect(await a.locator('h1').allTextContents()).toEqual(['Parley']);
    await a.getByTestId('settings-button').click();
    await expect.poll(() => a.getByTestId('display-name').inputValue()).toBe('Alice Liddell');
    expect(await a.getByTestId('share-read-receipts').isChecked()).toBe(true);
    await a.getByTestId('display-name').fill('Alice L.');
    await a.getByTestId('save-name').click();
    await expect.poll(() => a.getByTestId('settings-status').textContent()).toBe('Name saved.');
    await a.getByTestId('share-read-receipts').uncheck();
    await expect.poll(() => a.getByTestId('settings-status').textContent()).toBe('Read receipts off.');
    await a.getByTestId('share-presence').uncheck();
    await expect.poll(() => a.getByTestId('settings-status').textContent()).toBe('Online status hidden.');
    expect(await axeFindings(a)).toEqual([]);
    await shots(a, 'features-settings');
    await a.keyboard.press('Escape');
    await expect.poll(() => a.getByTestId('settings').count()).toBe(0);
    expect(await a.getByTestId('me').textContent()).toBe('Alice L.');

    const me = await app.http().get('/api/v1/users/me').set(alice.auth);
    expect(me.body).toMatchObject({ displayName: 'Alice L.', shareReadReceipts: false, sharePresence: false });
    // Reopened, the settings show what was saved.
    await a.reload();
    await a.getByTestId('settings-button').click();
    await expect.poll(() => a.getByTestId('display-name').inputValue()).toBe('Alice L.');
    expect(await a.getByTestId('share-read-receipts').isChecked()).toBe(false);
    expect(await a.getByTestId('share-presence').isChecked()).toBe(false);
  });
});
