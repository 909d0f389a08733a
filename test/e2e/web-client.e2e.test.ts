import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionRegistry } from '../../src/notifications/connection-registry.js';
import { WEB_CLIENT_DIR } from '../../src/web/web-client.js';
import { startApp, type TestApp } from '../support/app.js';
import { hasChromium, launchChromium, screenshot, watchCspViolations } from '../support/browser.js';
import { newDirect, newUser, PASSWORD, send, testUser, tokenClaims, uniqueName, type TestUser } from '../support/factories.js';

/**
 * The web client at `/`, in real headless Chromium: each user is its own browser context (its
 * own storage and socket), as two people on two machines would be. Each test saves a
 * screenshot of its final state under test/artifacts/.
 */

const XSS = '<img src=x onerror=alert(1)>';

let app: TestApp;
let browser: Browser;
const contexts: BrowserContext[] = [];
/** Content-Security-Policy violations in any page of any test: there must be none. */
const cspViolations: string[] = [];

interface Person {
  page: Page;
  context: BrowserContext;
  /** Every alert/confirm/prompt the page opened: there must be none. */
  dialogs: string[];
  /** Uncaught errors in the page. */
  errors: string[];
}

// CI installs Chromium (.ci/run) and must run these; elsewhere a missing browser skips them, loudly.
const runBrowserTests = hasChromium || Boolean(process.env.CI);
if (!runBrowserTests) console.warn('web client tests skipped: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');

describe.runIf(runBrowserTests)('web client', () => {
  beforeAll(async () => {
    // test/support/web-client-setup.ts has built the page, so the app serves it.
    app = await startApp();
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

  async function person(viewport = { width: 1100, height: 720 }, target: TestApp = app): Promise<Person> {
    const context = await browser.newContext({ viewport });
    contexts.push(context);
    await watchCspViolations(context, cspViolations);
    const page = await context.newPage();
    const dialogs: string[] = [];
    const errors: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(target.url);
    return { page, context, dialogs, errors };
  }

  /** Registers through the form; answers the user as the page stored it. */
  async function registerInPage(page: Page, prefix: string): Promise<TestUser> {
    const username = uniqueName(prefix);
    await page.getByTestId('username').fill(username);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('register').click();
    await expect.poll(() => page.getByTestId('connection-state').textContent(), { timeout: 10_000 }).toBe('online');
    const session = JSON.parse((await storedSession(page)) ?? 'null');
    return testUser(username, { user: session.user, accessToken: session.token, refreshToken: session.refreshToken });
  }

  /** Logs in through the form as a user made with the API. */
  async function logInPage(page: Page, user: TestUser): Promise<void> {
    await page.getByTestId('username').fill(user.username);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('login').click();
    await expect.poll(() => page.getByTestId('connection-state').textContent(), { timeout: 10_000 }).toBe('online');
  }

  // Code that runs in the page is passed as a string where it names browser globals: the
  // service's tsconfig, which checks the tests, rightly has no DOM types.
  const storedSession = (page: Page) => page.evaluate<string | null>("localStorage.getItem('parley.session')");

  /** The open conversation, from the address (#/c/<id>). */
  const openId = (page: Page) => new URL(page.url()).hash.replace('#/c/', '');

  const conversationItem = (page: Page, conversationId: string) =>
    page.locator(`[data-testid="conversation"][data-conversation-id="${conversationId}"]`);

  /** The seqs of the confirmed messages shown, top to bottom. */
  const shownSeqs = (page: Page) =>
    page.$$eval('[data-testid="message"][data-seq]', (items) => items.map((item) => Number(item.getAttribute('data-seq'))));

  const shownBodies = (page: Page) =>
    page.$$eval('[data-testid="message"][data-seq] .message-body', (items) => items.map((item) => item.textContent));

  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  /** Bob in a page, reading the direct conversation that Alice (made with the API) began with `first`. */
  async function bobReadingAlice(first: string) {
    const b = await person();
    const bob = await registerInPage(b.page, 'bob');
    const alice = await newUser(app, 'alice');
    const conversationId = await newDirect(app, alice, bob);
    await send(app, alice, conversationId, first);
    await expect.poll(() => conversationItem(b.page, conversationId).count(), { timeout: 10_000 }).toBe(1);
    await openConversation(b.page, conversationId);
    await expect.poll(() => shownSeqs(b.page)).toEqual([1]);
    return { b, bob, alice, conversationId };
  }

  async function openConversation(page: Page, conversationId: string): Promise<void> {
    await conversationItem(page, conversationId).click();
    // Longer than the poll's default second: on a loaded CI machine the page may take longer.
    await expect.poll(() => openId(page), { timeout: 10_000 }).toBe(conversationId);
  }

  describe('serving', () => {
    it('serves the page at / and its hashed assets, without shadowing the API', async () => {
      const index = await app.http().get('/');
      expect(index.status).toBe(200);
      expect(index.headers['content-type']).toMatch(/^text\/html/);
      expect(index.headers['cache-control']).toBe('no-cache');
      const script = /src="(\/assets\/[^"]+\.js)"/.exec(index.text)?.[1];
      expect(script).toBeDefined();
      const asset = await app.http().get(script!);
      expect(asset.status).toBe(200);
      expect(asset.headers['cache-control']).toContain('immutable');
      // No CDN: everything the page loads comes from this server.
      expect(index.text).not.toMatch(/(src|href)="(https?:)?\/\//);

      const unknown = await app.http().get('/api/v1/nothing-here');
      expect(unknown.status).toBe(404);
      expect(unknown.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
      expect((await app.http().get('/not-a-file')).status).toBe(404);
    });

    it('serves no source maps: none built, none linked, none answered', async () => {
      const index = await app.http().get('/');
      const assets = [...index.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]);
      expect(assets.length).toBeGreaterThanOrEqual(2);
      for (const asset of assets) {
        const response = await app.http().get(asset);
        expect(response.status).toBe(200);
        expect(response.text ?? String(response.body)).not.toContain('sourceMappingURL');
        expect(response.headers.sourcemap).toBeUndefined();
        expect((await app.http().get(`${asset}.map`)).status, `${asset}.map`).toBe(404);
      }
      expect(readdirSync(path.join(WEB_CLIENT_DIR, 'assets')).filter((file) => file.endsWith('.map'))).toEqual([]);
    });

    it('shows the API documentation at /docs under its own Content-Security-Policy', async () => {
      const { page, errors } = await person();
      await page.goto(`${app.url}/docs`);
      await expect.poll(() => page.locator('.swagger-ui .info .title').textContent(), { timeout: 10_000 }).toContain('Parley');
      await page.locator('.opblock-tag', { hasText: 'messages' }).first().click();
      await page.locator('.opblock-summary').first().waitFor();
      // The hidden icon sprite keeps its inline style: it takes no room on the page.
      expect(await page.evaluate<string>("getComputedStyle(document.querySelector('body > svg')).position")).toBe('absolute');
      await screenshot(page, 'web-docs');
      expect(errors).toEqual([]);
    });
  });

  describe('accounts', () => {
    it('registers, keeps the session across a reload, logs out and logs back in', async () => {
      const { page, errors } = await person();
      const user = await registerInPage(page, 'reload');
      await expect.poll(() => page.getByTestId('me').textContent()).toBe(user.username);

      await page.reload();
      await expect.poll(() => page.getByTestId('connection-state').textContent(), { timeout: 10_000 }).toBe('online');
      expect(await page.getByTestId('me').textContent()).toBe(user.username);

      await page.getByTestId('logout').click();
      await page.getByTestId('login').waitFor();
      expect(await storedSession(page)).toBeNull();
      await page.reload();
      await page.getByTestId('login').waitFor();

      await page.getByTestId('username').fill(user.username);
      await page.getByTestId('password').fill('wrong password');
      await page.getByTestId('login').click();
      await expect.poll(() => page.locator('[role="alert"]').textContent()).toBe('Wrong username or password.');
      await logInPage(page, user);
      expect(await page.getByTestId('me').textContent()).toBe(user.username);
      await screenshot(page, 'web-accounts');
      expect(errors).toEqual([]);
    });

    it('logs out every tab when one logs out, and follows a tab that logs in as someone else', async () => {
      const { page: first, context } = await person();
      const alice = await registerInPage(first, 'tabs');
      const second = await context.newPage();
      await second.goto(app.url);
      await expect.poll(() => second.getByTestId('connection-state').textContent(), { timeout: 10_000 }).toBe('online');

      await first.getByTestId('logout').click();
      await second.getByTestId('login').waitFor();
      expect(await second.locator('[role="status"], [role="alert"]').allTextContents()).toContain('You logged out in another tab.');

      const bob = await newUser(app, 'tabs');
      await logInPage(first, bob);
      await expect.poll(() => second.getByTestId('me').textContent(), { timeout: 10_000 }).toBe(bob.username);
      expect(await second.getByTestId('me').textContent()).not.toBe(alice.username);
      await screenshot(second, 'web-tabs');
    });
  });

  describe('sessions', () => {
    let shortLived: TestApp;
    const TTL_SECONDS = 10;

    beforeAll(async () => {
      shortLived = await startApp({ ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS) });
    });

    afterAll(async () => {
      await shortLived?.close();
    });

    /** Records every state the connection indicator shows from now on. */
    const watchConnectionState = (page: Page) =>
      page.evaluate(`(() => {
        const indicator = document.querySelector('[data-testid="connection-state"]');
        window.connectionStates = [];
        new MutationObserver(() => window.connectionStates.push(indicator.textContent))
          .observe(indicator, { childList: true, characterData: true, subtree: true });
      })()`);

    it('stays logged in across access-token expiries in two tabs, with one refresh per rotation', async () => {
      const { page: first, context, errors } = await person(undefined, shortLived);
      const presented: string[] = [];
      const presentedAt: number[] = [];
      context.on('request', (request) => {
        if (!request.url().endsWith('/api/v1/auth/refresh')) return;
        presented.push(JSON.parse(request.postData() ?? '{}').refreshToken);
        presentedAt.push(Date.now());
      });
      const bob = await registerInPage(first, 'renew');
      const second = await context.newPage();
      await second.goto(shortLived.url);
      await expect.poll(() => second.getByTestId('connection-state').textContent(), { timeout: 10_000 }).toBe('online');
      await watchConnectionState(first);
      await watchConnectionState(second);
      const firstExpiry = tokenClaims(bob.token).exp * 1000;

      // Two expiries of the access token, and a little more.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstExpiry - Date.now()) + TTL_SECONDS * 1000 + 1500));

      // Alice writes after the expiries: the tab's socket, renewed with auth frames, still delivers.
      const alice = await newUser(shortLived, 'alice');
      const conversationId = await newDirect(shortLived, alice, bob);
      await send(shortLived, alice, conversationId, 'still there?');
      await expect.poll(() => conversationItem(first, conversationId).count(), { timeout: 5000 }).toBe(1);
      await openConversation(first, conversationId);
      await expect.poll(() => shownBodies(first)).toEqual(['still there?']);
      // And Bob answers, through REST with the renewed token.
      await first.getByTestId('composer').fill('yes');
      await first.getByTestId('composer').press('Enter');
      await expect.poll(() => first.getByTestId('message').filter({ hasText: 'yes' }).getAttribute('data-seq')).toBe('2');

      for (const page of [first, second]) {
        expect(await page.getByTestId('me').textContent()).toBe(bob.username);
        // Never offline, not even for a moment: the sockets were renewed, not reopened.
        expect(await page.evaluate('window.connectionStates')).toEqual([]);
      }
      // At least one rotation per expiry, and no refresh token presented twice (which would
      // have ended the session as a replay): the tabs shared each refresh. Nor did a second
      // tab refresh again the pair the first had just got: each refresh is due only two thirds
      // of a token's life after the last.
      expect(presented.length).toBeGreaterThanOrEqual(2);
      expect(new Set(presented).size).toBe(presented.length);
      expect(presented[0]).toBe(bob.refreshToken);
      const gaps = presentedAt.slice(1).map((at, i) => at - presentedAt[i]);
      for (const gap of gaps) expect(gap).toBeGreaterThan((TTL_SECONDS * 1000) / 3);
      await screenshot(first, 'web-sessions-renewed');
      expect(errors).toEqual([]);
    }, 90_000);

    it('logs out through the API: the session ends on the server, not only in the page', async () => {
      const { page } = await person(undefined, shortLived);
      const user = await registerInPage(page, 'bye');
      await page.getByTestId('logout').click();
      await page.getByTestId('login').waitFor();
      await expect.poll(async () => (await shortLived.http().get('/api/v1/users/me').set(user.auth)).status).toBe(401);
      expect((await shortLived.http().post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken })).status).toBe(401);
    });
  });

  describe('live', () => {
    it('A finds B, writes, and B sees it appear live without a reload; own messages show at once, then confirmed', async () => {
      const a = await person();
      const b = await person();
      const alice = await registerInPage(a.page, 'alice');
      const bob = await registerInPage(b.page, 'bob');
      // Proves below that B's page was never reloaded.
      await b.page.evaluate('window.unreloaded = true');

      await a.page.getByTestId('user-search').fill(bob.username);
      await a.page.getByTestId('user-result').filter({ hasText: bob.username }).click();
      await a.page.getByTestId('composer').waitFor();
      // Slow the first send's answer, to see the message shown before the server confirms it.
      await a.page.route('**/api/v1/messages', async (route) => {
        await new Promise((resolve) => setTimeout(resolve, 400));
        await route.continue();
      });
      await a.page.getByTestId('composer').fill('hello bob');
      await a.page.getByTestId('composer').press('Enter');
      const mine = a.page.getByTestId('message').filter({ hasText: 'hello bob' });
      await expect.poll(() => mine.getAttribute('data-state')).toBe('pending');
      expect(await a.page.getByTestId('composer').inputValue()).toBe('');
      await expect.poll(() => mine.getAttribute('data-seq')).toBe('1');
      expect(await mine.getAttribute('data-state')).toBeNull();
      await a.page.unroute('**/api/v1/messages');

      const conversationId = openId(a.page);
      await expect.poll(() => conversationItem(b.page, conversationId).getAttribute('data-unread')).toBe('1');
      await openConversation(b.page, conversationId);
      await expect.poll(() => shownBodies(b.page)).toEqual(['hello bob']);
      await expect.poll(() => conversationItem(b.page, conversationId).getAttribute('data-unread')).toBe('0');

      // Shift+Enter is a new line; Enter sends.
      await a.page.getByTestId('composer').pressSequentially('two lines');
      await a.page.getByTestId('composer').press('Shift+Enter');
      await a.page.getByTestId('composer').pressSequentially('in one message');
      await a.page.getByTestId('composer').press('Enter');
      await expect.poll(() => shownBodies(b.page)).toEqual(['hello bob', 'two lines\nin one message']);
      await expect.poll(() => shownSeqs(b.page)).toEqual([1, 2]);

      // B answers with the send button.
      await b.page.getByTestId('composer').fill('hi alice');
      await b.page.getByTestId('send').click();
      await expect.poll(() => shownSeqs(a.page)).toEqual([1, 2, 3]);
      expect(await a.page.getByTestId('message').filter({ hasText: 'hi alice' }).getAttribute('data-seq')).toBe('3');

      expect(await b.page.evaluate('window.unreloaded')).toBe(true);
      expect(alice.id).not.toBe(bob.id);
      await screenshot(a.page, 'web-live-a');
      await screenshot(b.page, 'web-live-b');
      expect([...a.errors, ...b.errors]).toEqual([]);
    });

    it("raises B's unread count of other conversations while B reads another one", async () => {
      const b = await person();
      const bob = await registerInPage(b.page, 'bob');
      const [alice, carol] = [await newUser(app, 'alice'), await newUser(app, 'carol')];
      const withAlice = await newDirect(app, alice, bob);
      await send(app, alice, withAlice, 'open this one');
      await expect.poll(() => conversationItem(b.page, withAlice).count(), { timeout: 10_000 }).toBe(1);
      await openConversation(b.page, withAlice);

      // Carol's first message makes a conversation B has never seen: it appears, unread.
      const first = await app.http().post('/api/v1/messages').set(carol.auth).send({ recipientId: bob.id, body: 'psst' });
      const withCarol = first.body.conversationId as string;
      await expect.poll(() => conversationItem(b.page, withCarol).getAttribute('data-unread')).toBe('1');
      await send(app, carol, withCarol, 'psst again');
      await expect.poll(() => conversationItem(b.page, withCarol).getAttribute('data-unread')).toBe('2');
      await expect.poll(() => conversationItem(b.page, withCarol).getByTestId('unread-count').textContent()).toBe('2');
      // Latest activity first.
      await expect
        .poll(() => b.page.$$eval('[data-testid="conversation"]', (items) => items.map((item) => item.getAttribute('data-conversation-id'))))
        .toEqual([withCarol, withAlice]);

      // Meanwhile the open conversation keeps no unread count and shows what arrives.
      await send(app, alice, withAlice, 'still here');
      await expect.poll(() => shownBodies(b.page)).toEqual(['open this one', 'still here']);
      expect(await conversationItem(b.page, withAlice).getAttribute('data-unread')).toBe('0');
      await expect.poll(() => b.page.title()).toBe('(2) Parley');

      // Reading moves the read marker on the server too: both stay read after switching.
      await openConversation(b.page, withCarol);
      await expect.poll(() => conversationItem(b.page, withCarol).getAttribute('data-unread')).toBe('0');
      const unreadOnServer = async (id: string) =>
        (await app.http().get(`/api/v1/conversations/${id}`).set(bob.auth)).body.unreadCount as number;
      await expect.poll(() => unreadOnServer(withCarol)).toBe(0);
      expect(await unreadOnServer(withAlice)).toBe(0);
      expect(await conversationItem(b.page, withAlice).getAttribute('data-unread')).toBe('0');
      await expect.poll(() => b.page.title()).toBe('Parley');
      await screenshot(b.page, 'web-unread');
    });

    it('after its socket drops and comes back, shows what was sent meanwhile in order, exactly once', async () => {
      const b = await person();
      const bob = await registerInPage(b.page, 'bob');
      const alice = await newUser(app, 'alice');
      const conversationId = await newDirect(app, alice, bob);
      const before = [await send(app, alice, conversationId, 'one'), await send(app, alice, conversationId, 'two')];
      await expect.poll(() => conversationItem(b.page, conversationId).count(), { timeout: 10_000 }).toBe(1);
      await openConversation(b.page, conversationId);
      await expect.poll(() => shownSeqs(b.page)).toEqual([1, 2]);

      // The server drops B's socket (as a restart would) and, for a while, B cannot reconnect.
      await b.page.route('**/api/v1/auth/ws-ticket', (route) => route.abort('connectionrefused'));
      app.app.get(ConnectionRegistry).disconnect(bob.id, 1012, 'service restart');
      await expect.poll(() => b.page.getByTestId('connection-state').textContent()).toBe('offline');

      // Sent, edited and deleted meanwhile: B's page gets no frame for any of it.
      const missed = [];
      for (const body of ['three', 'four', 'five']) missed.push(await send(app, alice, conversationId, body));
      await app.http().patch(`/api/v1/messages/${before[0].id}`).set(alice.auth).send({ body: 'one (edited)' });
      await app.http().delete(`/api/v1/messages/${before[1].id}`).set(alice.auth);
      // Let at least one reconnect attempt fail, so the backoff is exercised too.
      await expect.poll(() => b.page.locator('.connection-detail').textContent(), { timeout: 10_000 }).toMatch(/retrying in/);
      expect(await shownSeqs(b.page)).toEqual([1, 2]);

      await b.page.unroute('**/api/v1/auth/ws-ticket');
      await expect.poll(() => b.page.getByTestId('connection-state').textContent(), { timeout: 20_000 }).toBe('online');
      await expect.poll(() => shownSeqs(b.page)).toEqual([1, 2, 3, 4, 5]);
      expect(await shownBodies(b.page)).toEqual(['one (edited)', 'This message was deleted.', 'three', 'four', 'five']);

      // Live again: the next message arrives by its frame, once.
      await send(app, alice, conversationId, 'six');
      await expect.poll(() => shownSeqs(b.page)).toEqual([1, 2, 3, 4, 5, 6]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await shownSeqs(b.page)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(missed.map((m) => m.seq)).toEqual([3, 4, 5]);
      await screenshot(b.page, 'web-reconnect');
    }, 60_000);
    it('sends a message written while offline once the connection is back, exactly once', async () => {
      const { b, alice, conversationId } = await bobReadingAlice('are you there?');

      await b.context.setOffline(true);
      await expect.poll(() => b.page.getByTestId('connection-state').textContent()).toBe('offline');
      await b.page.getByTestId('composer').fill('written offline');
      await b.page.getByTestId('composer').press('Enter');
      const pending = b.page.getByTestId('message').filter({ hasText: 'written offline' });
      await expect.poll(() => pending.getAttribute('data-state')).toBe('failed');
      await screenshot(b.page, 'web-offline-failed');

      await b.context.setOffline(false);
      await expect.poll(() => b.page.getByTestId('connection-state').textContent(), { timeout: 20_000 }).toBe('online');
      await expect.poll(() => shownSeqs(b.page)).toEqual([1, 2]);
      expect(await shownBodies(b.page)).toEqual(['are you there?', 'written offline']);
      expect(await b.page.locator('[data-testid="message"][data-state]').count()).toBe(0);
      const history = await app.http().get(`/api/v1/conversations/${conversationId}/messages`).set(alice.auth);
      expect(history.body.items.map((m: { body: string }) => m.body)).toEqual(['written offline', 'are you there?']);
      await screenshot(b.page, 'web-offline-send');
    }, 60_000);

    it('keeps an unsent message and a draft while another conversation is open, and sends the message once', async () => {
      const b = await person();
      const bob = await registerInPage(b.page, 'bob');
      const [alice, carol] = [await newUser(app, 'alice'), await newUser(app, 'carol')];
      const withAlice = await newDirect(app, alice, bob);
      const withCarol = await newDirect(app, carol, bob);
      await send(app, carol, withCarol, 'hi from carol');
      await send(app, alice, withAlice, 'hi from alice');
      await expect.poll(() => conversationItem(b.page, withCarol).count(), { timeout: 10_000 }).toBe(1);
      await openConversation(b.page, withAlice);
      await expect.poll(() => shownSeqs(b.page)).toEqual([1]);

      await b.context.setOffline(true);
      await expect.poll(() => b.page.getByTestId('connection-state').textContent()).toBe('offline');
      await b.page.getByTestId('composer').fill('sent while offline');
      await b.page.getByTestId('composer').press('Enter');
      const pending = b.page.getByTestId('message').filter({ hasText: 'sent while offline' });
      await expect.poll(() => pending.getAttribute('data-state')).toBe('failed');
      await b.page.getByTestId('composer').fill('half-written draft');

      // To the other conversation and back: both are still there (both were dropped before).
      await openConversation(b.page, withCarol);
      await expect.poll(() => b.page.getByTestId('message').filter({ hasText: 'sent while offline' }).count()).toBe(0);
      await openConversation(b.page, withAlice);
      await expect.poll(() => pending.count()).toBe(1);
      expect(await b.page.getByTestId('composer').inputValue()).toBe('half-written draft');

      // Away again when the connection comes back: it goes anyway, once.
      await openConversation(b.page, withCarol);
      await b.context.setOffline(false);
      await expect.poll(() => b.page.getByTestId('connection-state').textContent(), { timeout: 20_000 }).toBe('online');
      const bodies = async () =>
        (await app.http().get(`/api/v1/conversations/${withAlice}/messages`).set(alice.auth)).body.items.map((m: { body: string }) => m.body);
      await expect.poll(bodies, { timeout: 10_000 }).toEqual(['sent while offline', 'hi from alice']);
      await openConversation(b.page, withAlice);
      await expect.poll(() => shownBodies(b.page)).toEqual(['hi from alice', 'sent while offline']);
      expect(await b.page.locator('[data-testid="message"][data-state]').count()).toBe(0);
      await screenshot(b.page, 'web-outbox');
    }, 60_000);

    it('counts a message in characters as the server does: 2,500 emoji go, 4,001 characters are refused in place', async () => {
      const { b, alice, conversationId } = await bobReadingAlice('hello');

      // Inserted as a paste is: the textarea's maxlength (UTF-16 units) kept 2,000 of them.
      await b.page.getByTestId('composer').focus();
      await b.page.keyboard.insertText('😀'.repeat(2500));
      await b.page.getByTestId('composer').press('Enter');
      await expect.poll(() => shownSeqs(b.page), { timeout: 10_000 }).toEqual([1, 2]);
      const history = await app.http().get(`/api/v1/conversations/${conversationId}/messages`).set(alice.auth);
      expect([...history.body.items[0].body].length).toBe(2500);

      await b.page.getByTestId('composer').fill('x'.repeat(4001));
      await b.page.getByTestId('composer').press('Enter');
      await expect.poll(() => b.page.getByTestId('composer-error').textContent()).toBe('This message is 4,001 characters long; the most is 4,000.');
      expect(await b.page.getByTestId('composer').inputValue()).toHaveLength(4001);
      expect(await shownSeqs(b.page)).toEqual([1, 2]);
      await screenshot(b.page, 'web-too-long');
    }, 60_000);

    it('sends again by itself a message whose request failed while the socket stayed up', async () => {
      const { b, alice, conversationId } = await bobReadingAlice('hello');

      // The first POST of a message is cut off; the socket is untouched.
      let cut = 0;
      await b.page.route('**/api/v1/messages', (route) => {
        if (route.request().method() === 'POST' && cut++ === 0) return route.abort('connectionreset');
        return route.continue();
      });
      await b.page.getByTestId('composer').fill('through a hiccup');
      await b.page.getByTestId('composer').press('Enter');
      await expect.poll(() => cut).toBeGreaterThan(0);
      await expect.poll(() => shownBodies(b.page), { timeout: 15_000 }).toEqual(['hello', 'through a hiccup']);
      expect(await b.page.getByTestId('connection-state').textContent()).toBe('online');
      const history = await app.http().get(`/api/v1/conversations/${conversationId}/messages`).set(alice.auth);
      expect(history.body.items.map((m: { body: string }) => m.body)).toEqual(['through a hiccup', 'hello']);
    }, 60_000);
  });

  describe('history', () => {
    /** Bob in a page, with `count` messages from Alice in their conversation, not yet opened. */
    async function bobWithHistory(count: number) {
      const b = await person();
      const bob = await registerInPage(b.page, 'bob');
      const alice = await newUser(app, 'alice');
      const conversationId = await newDirect(app, alice, bob);
      for (let i = 1; i <= count; i++) await send(app, alice, conversationId, `message ${i}`);
      await expect.poll(() => conversationItem(b.page, conversationId).count(), { timeout: 10_000 }).toBe(1);
      return { b, bob, alice, conversationId };
    }

    it('loads the newest page first, then older pages with the button and on scrolling up', async () => {
      const { b, conversationId } = await bobWithHistory(70);
      await openConversation(b.page, conversationId);
      await expect.poll(() => shownSeqs(b.page)).toEqual(range(41, 70));
      // The newest is in view.
      await expect.poll(() => b.page.getByTestId('message').last().isVisible()).toBe(true);

      await b.page.getByTestId('load-older').click();
      await expect.poll(() => shownSeqs(b.page)).toEqual(range(11, 70));

      await b.page.locator('.log').evaluate((log) => (log.scrollTop = 0));
      await expect.poll(() => shownSeqs(b.page)).toEqual(range(1, 70));
      expect(await b.page.getByTestId('load-older').isHidden()).toBe(true);
      await screenshot(b.page, 'web-history');
    });

    it('moves the read marker only over what is in view: not while the reader is up in the history', async () => {
      const { b, bob, alice, conversationId } = await bobWithHistory(40);
      const unreadOnServer = async () =>
        (await app.http().get(`/api/v1/conversations/${conversationId}`).set(bob.auth)).body.unreadCount as number;
      await openConversation(b.page, conversationId);
      await expect.poll(unreadOnServer).toBe(0);

      // Up in the history, Bob does not see what arrives: it stays unread, and a button says so.
      await b.page.locator('.log').evaluate((log) => (log.scrollTop = 0));
      await expect.poll(() => shownSeqs(b.page)).toEqual(range(1, 40));
      await send(app, alice, conversationId, 'while Bob reads history');
      await expect.poll(() => shownSeqs(b.page)).toEqual(range(1, 41));
      // Longer than the marker's 200 ms gathering of a burst.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await unreadOnServer()).toBe(1);
      expect(await b.page.getByTestId('jump-newest').isVisible()).toBe(true);

      await b.page.getByTestId('jump-newest').click();
      await expect.poll(unreadOnServer).toBe(0);
      await expect.poll(() => b.page.getByTestId('message').last().isVisible()).toBe(true);
      expect(await b.page.getByTestId('jump-newest').isHidden()).toBe(true);
      expect(b.errors).toEqual([]);
    });
  });

  describe('editing', () => {
    it('edits and deletes own messages; the other side sees both live', async () => {
      const a = await person();
      const b = await person();
      const alice = await registerInPage(a.page, 'alice');
      const bob = await registerInPage(b.page, 'bob');
      const conversationId = await newDirect(app, alice, bob);
      await send(app, bob, conversationId, 'from bob');
      for (const p of [a.page, b.page]) {
        await expect.poll(() => conversationItem(p, conversationId).count(), { timeout: 10_000 }).toBe(1);
        await openConversation(p, conversationId);
      }
      await a.page.getByTestId('composer').fill('typo mesage');
      await a.page.getByTestId('composer').press('Enter');
      await expect.poll(() => shownSeqs(b.page)).toEqual([1, 2]);

      const mine = a.page.locator('[data-testid="message"][data-seq="2"]');
      // Only one's own messages can be edited or deleted.
      expect(await a.page.locator('[data-testid="message"][data-seq="1"] [data-testid="edit"]').count()).toBe(0);
      await mine.hover();
      await mine.getByTestId('message-menu-button').click();
      await mine.getByTestId('edit').click();
      await mine.getByTestId('edit-input').fill('fixed message');
      await mine.getByTestId('edit-input').press('Enter');
      await expect.poll(() => shownBodies(b.page)).toEqual(['from bob', 'fixed message']);
      expect(await b.page.locator('[data-testid="message"][data-seq="2"] .message-edited').textContent()).toBe('edited');

      await mine.hover();
      await mine.getByTestId('message-menu-button').click();
      await mine.getByTestId('delete').click();
      await mine.getByTestId('confirm-delete').click();
      await expect.poll(() => shownBodies(b.page)).toEqual(['from bob', 'This message was deleted.']);
      expect(await shownSeqs(b.page)).toEqual([1, 2]);
      expect(await mine.getByTestId('edit').count()).toBe(0);
      await screenshot(a.page, 'web-editing-a');
      await screenshot(b.page, 'web-editing-b');
    });
  });

  describe('groups', () => {
    it('creates a group with members, writes to it, and adds someone later who then sees it live', async () => {
      const a = await person();
      const c = await person();
      const alice = await registerInPage(a.page, 'alice');
      const bob = await newUser(app, 'bob');
      const carol = await registerInPage(c.page, 'carol');

      await a.page.getByTestId('new-group').click();
      await a.page.getByTestId('group-title').fill('Weekend plans');
      await a.page.getByTestId('member-search').fill(bob.username);
      await a.page.getByTestId('user-result').filter({ hasText: bob.username }).click();
      await a.page.getByTestId('group-submit').click();
      await expect.poll(() => a.page.locator('.thread-title').textContent()).toBe('Weekend plans');
      const groupId = openId(a.page);
      await a.page.getByTestId('composer').fill('who is in?');
      await a.page.getByTestId('composer').press('Enter');
      await expect.poll(() => shownSeqs(a.page)).toEqual([1]);

      const group = await app.http().get(`/api/v1/conversations/${groupId}`).set(bob.auth);
      expect(group.body).toMatchObject({ type: 'group', title: 'Weekend plans', memberIds: [alice.id, bob.id] });
      expect(group.body.unreadCount).toBe(1);

      await a.page.getByRole('button', { name: 'Add people' }).click();
      await a.page.getByTestId('member-search').fill(carol.username);
      await a.page.getByTestId('user-result').filter({ hasText: carol.username }).click();
      await a.page.getByTestId('group-submit').click();
      await expect.poll(() => a.page.locator('.thread-subtitle').textContent()).toContain(carol.username);

      await expect.poll(() => conversationItem(c.page, groupId).count(), { timeout: 10_000 }).toBe(1);
      await openConversation(c.page, groupId);
      // Adding carol is recorded as a system message (no body), shown as a note.
      await expect.poll(() => shownBodies(c.page)).toEqual(['who is in?']);
      await expect.poll(() => c.page.getByTestId('system-note').textContent()).toBe(`${alice.username} added you`);
      await a.page.getByTestId('composer').fill('welcome carol');
      await a.page.getByTestId('composer').press('Enter');
      await expect.poll(() => shownBodies(c.page)).toEqual(['who is in?', 'welcome carol']);
      // In a group, others' messages name their sender.
      expect(await c.page.locator('.message-sender').first().textContent()).toBe(alice.username);
      await screenshot(a.page, 'web-group-a');
      await screenshot(c.page, 'web-group-c');
    });
  });

  describe('safety and access', () => {
    it('shows message bodies, names and titles as text, never as markup', async () => {
      const a = await person();
      const b = await person();
      await registerInPage(a.page, 'alice');
      const bob = await registerInPage(b.page, 'bob');
      const mallory = (
        await app.http().post('/api/v1/auth/register').send({ username: uniqueName('mallory'), password: PASSWORD, displayName: XSS })
      ).body as { user: { id: string }; accessToken: string };
      const malloryAuth = { Authorization: `Bearer ${mallory.accessToken}` };
      const group = await app
        .http()
        .post('/api/v1/conversations')
        .set(malloryAuth)
        .send({ type: 'group', title: '<b>bold</b><script>alert(2)</script>', memberIds: [bob.id] });
      await app.http().post('/api/v1/messages').set(malloryAuth).send({ conversationId: group.body.id, body: XSS });

      await a.page.getByTestId('user-search').fill(bob.username);
      await a.page.getByTestId('user-result').first().click();
      await a.page.getByTestId('composer').fill(XSS);
      await a.page.getByTestId('composer').press('Enter');
      const directId = openId(a.page);

      await expect.poll(() => conversationItem(b.page, directId).count(), { timeout: 10_000 }).toBe(1);
      await openConversation(b.page, directId);
      await expect.poll(() => shownBodies(b.page)).toEqual([XSS]);
      await openConversation(b.page, group.body.id);
      await expect.poll(() => shownBodies(b.page)).toEqual([XSS]);
      // Polled: names arrive by a lookup of their own, after the messages (slow on a loaded machine).
      await expect.poll(() => b.page.locator('.thread-title').textContent()).toBe('<b>bold</b><script>alert(2)</script>');
      await expect.poll(() => b.page.locator('.message-sender').textContent()).toBe(XSS);
      await expect
        .poll(() => conversationItem(b.page, group.body.id).locator('.conversation-title').textContent())
        .toBe('<b>bold</b><script>alert(2)</script>');
      // Nothing was parsed: no image, no bold, no script, no alert.
      expect(await b.page.locator('#app img, #app b, #app script').count()).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect([...a.dialogs, ...b.dialogs]).toEqual([]);
      await screenshot(b.page, 'web-xss');
    });

    it('is usable with the keyboard alone, at phone width', async () => {
      const alice = await newUser(app, 'alice');
      const bob = await newUser(app, 'bob');
      const conversationId = await newDirect(app, bob, alice);
      await send(app, bob, conversationId, 'are you there?');
      const { page } = await person({ width: 375, height: 740 });
      const key = (k: string) => page.keyboard.press(k);
      const focused = () => page.evaluate<string | undefined>('document.activeElement?.dataset.testid');
      async function tabTo(testid: string): Promise<void> {
        for (let i = 0; i < 25 && (await focused()) !== testid; i++) await key('Tab');
        expect(await focused()).toBe(testid);
      }

      // The login form: focus starts in the username field.
      expect(await focused()).toBe('username');
      await page.keyboard.type(alice.username);
      await key('Tab');
      await page.keyboard.type(PASSWORD);
      await key('Enter');
      await expect.poll(() => page.getByTestId('connection-state').textContent(), { timeout: 10_000 }).toBe('online');
      await conversationItem(page, conversationId).waitFor();
      await screenshot(page, 'web-phone-list');

      await tabTo('conversation');
      await key('Enter');
      await expect.poll(() => shownBodies(page)).toEqual(['are you there?']);
      await tabTo('composer');
      await page.keyboard.type('yes, typing with the keyboard');
      await key('Enter');
      await expect.poll(() => shownSeqs(page)).toEqual([1, 2]);

      // Nothing is wider than the phone.
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
      expect(await page.locator('.sidebar').isVisible()).toBe(false);
      await screenshot(page, 'web-phone-conversation');
      // The Back button returns to the list.
      await page.getByRole('button', { name: 'Back to conversations' }).click();
      await expect.poll(() => page.locator('.sidebar').isVisible()).toBe(true);
    });

    it('ends the session and shows the login form when the session is ended from another device', async () => {
      const { page } = await person();
      const user = await registerInPage(page, 'gone');
      const otherDevice = await app.http().post('/api/v1/auth/login').send({ username: user.username, password: PASSWORD });
      const revoke = await app
        .http()
        .delete(`/api/v1/auth/sessions/${user.sessionId}`)
        .set('Authorization', `Bearer ${otherDevice.body.accessToken}`);
      expect(revoke.status).toBe(204);
      await page.getByTestId('login').waitFor({ timeout: 10_000 });
      expect(await page.locator('.notice').textContent()).toMatch(/session has ended/);
      expect(await storedSession(page)).toBeNull();
    });

    it('keeps what was written when the session ends under it, for logging in again', async () => {
      const { b, bob, conversationId } = await bobReadingAlice('still there?');

      // The token is revoked (as a password change would) while the page sits open; its socket stays.
      const { DataSource } = await import('typeorm');
      await app.app.get(DataSource).query(`UPDATE users SET token_version = token_version + 1 WHERE id = $1`, [bob.id]);
      await b.page.getByTestId('composer').fill('my long reply');
      // Under load the page may learn of the ended session before Enter: the composer is gone then.
      await b.page.getByTestId('composer').press('Enter', { timeout: 5_000 }).catch(() => undefined);
      await b.page.getByTestId('login').waitFor({ timeout: 10_000 });

      await logInPage(b.page, bob);
      await openConversation(b.page, conversationId);
      expect(await b.page.getByTestId('composer').inputValue()).toBe('my long reply');
      await screenshot(b.page, 'web-unsent-kept');
    }, 60_000);
  });
});
