import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import pg from 'pg';
import type { Browser, BrowserContext, Page, Worker } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { hasChromium, launchChromium, screenshot, watchCspViolations } from '../support/browser.js';
import { newDirect, newGroup, newUser, PASSWORD, send, type TestUser } from '../support/factories.js';
import { ownDatabase } from '../support/own-database.js';
import { PushService } from '../support/push-service.js';

/**
 * The web client's notifications (Web Push), in real headless Chromium against the real server:
 * the settings switch subscribes, a push the server sent becomes a notification in the service
 * worker, a click opens its conversation, mute and logout reach the server. Screenshots of each
 * state, at desktop and phone sizes, go to test/artifacts/.
 */

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let app: TestApp;
let browser: Browser;
let service: PushService;
let db: pg.Client;
let database: Awaited<ReturnType<typeof ownDatabase>>;
const contexts: BrowserContext[] = [];
const cspViolations: string[] = [];
const pageErrors: string[] = [];

type Subscription = ReturnType<PushService['newBrowser']>;

/** What the init scripts record in a page: permission requests, and what subscribe was asked. */
interface Recorded {
  permissionRequests: number;
  subscribeOptions: { userVisibleOnly: boolean; applicationServerKey: string } | null;
}

/**
 * Headless Chromium has no network here, so its own `pushManager.subscribe()` cannot reach the
 * browser vendor's push service. The stand-in answers what a real one would: a subscription whose
 * endpoint is the test's push service (keys made by the test, which can therefore decrypt what
 * the server sends). The subscription is kept in localStorage, so later pages of the context see
 * it as the browser's. `Notification.requestPermission` is counted, not replaced.
 */
function standInPushManager(options: { subscription: Subscription | null; failSubscribe: boolean }): string {
  return `(${STAND_IN})(${JSON.stringify(options)})`;
}

// As a string: the test's TypeScript knows no DOM.
const STAND_IN = `({ subscription, failSubscribe }) => {
  const KEY = 'test.push-subscribed';
  const recorded = (window.recorded = { permissionRequests: 0, subscribeOptions: null });
  if (!('PushManager' in window)) return;
  const ask = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = (...args) => {
    recorded.permissionRequests += 1;
    return ask(...args);
  };
  const held = () => ({
    endpoint: subscription.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true },
    toJSON: () => subscription,
    unsubscribe: async () => (localStorage.removeItem(KEY), true),
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    recorded.subscribeOptions = {
      userVisibleOnly: options.userVisibleOnly === true,
      applicationServerKey: btoa(String.fromCharCode(...key)).replace(/[+]/g, '-').replace(/[/]/g, '_').replace(/=+$/, ''),
    };
    if (failSubscribe) throw new DOMException('Registration failed - push service error', 'AbortError');
    localStorage.setItem(KEY, '1');
    return held();
  };
  PushManager.prototype.getSubscription = async function () {
    return localStorage.getItem(KEY) ? held() : null;
  };
}`;

const runBrowserTests = hasChromium || Boolean(process.env.CI);
if (!runBrowserTests) console.warn('web client tests skipped: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');

describe.runIf(runBrowserTests)('web client: notifications', () => {
  let vapidKey: string;

  beforeAll(async () => {
    // This app sends pushes (JOB_QUEUE_TASKS), to the test's push service on 127.0.0.1
    // (DELIVERIES_FOR_TESTS allows http and loopback endpoints, as for the push tests).
    // Offline (and so pushed to) soon after the page closes: the server does not push to a user
    // it counts as online, which lasts a grace after the last socket closes.
    // A database of its own: the other push suite's app would take this one's jobs (and sign
    // them with its own VAPID key, which this suite's push service refuses).
    database = await ownDatabase('web_push');
    const databaseUrl = database?.url ?? inject('databaseUrl');
    app = await startApp({ JOB_QUEUE_TASKS: 'push', PRESENCE_OFFLINE_GRACE_MS: '300', DATABASE_URL: databaseUrl });
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const key = await app.http().get('/api/v1/push/vapid-public-key').set((await newUser(app, 'key')).auth);
    vapidKey = key.body.publicKey;
    service = await PushService.start(vapidKey);
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
    await service?.close();
    await db?.end();
    await database?.drop();
  });

  async function user(prefix: string, displayName: string): Promise<TestUser> {
    const created = await newUser(app, prefix);
    expect((await app.http().patch('/api/v1/users/me').set(created.auth).send({ displayName })).status).toBe(200);
    return created;
  }

  /** A browser context for one person, notifications granted (or not), with the stand-in push service. */
  async function newContext(options: { subscription?: Subscription | null; grant?: boolean; failSubscribe?: boolean; init?: string } = {}) {
    const context = await browser.newContext({ viewport: DESKTOP });
    contexts.push(context);
    await watchCspViolations(context, cspViolations);
    if (options.grant !== false) await context.grantPermissions(['notifications'], { origin: app.url });
    await context.addInitScript(standInPushManager({ subscription: options.subscription ?? null, failSubscribe: options.failSubscribe ?? false }));
    if (options.init) await context.addInitScript(options.init);
    return context;
  }

  async function logIn(context: BrowserContext, person: TestUser): Promise<Page> {
    const page = await newPage(context);
    await page.getByTestId('username').fill(person.username);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('login').click();
    await online(page);
    return page;
  }

  async function newPage(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(app.url);
    return page;
  }

  const online = (page: Page) => expect.poll(() => page.getByTestId('connection-state').textContent(), { timeout: 10_000 }).toBe('online');
  const recorded = (page: Page) => page.evaluate<Recorded>('window.recorded');
  const pushState = (page: Page) => page.getByTestId('notifications-state').getAttribute('data-state');

  async function openSettings(page: Page): Promise<void> {
    await page.getByTestId('settings-button').click();
    await expect.poll(() => page.getByTestId('display-name').isEnabled()).toBe(true);
  }

  /** Screenshots at both sizes, ending at the desktop size. */
  async function screenshots(page: Page, name: string): Promise<void> {
    await page.setViewportSize(PHONE);
    await screenshot(page, `${name}-phone`);
    await page.setViewportSize(DESKTOP);
    await screenshot(page, `${name}-desktop`);
  }

  async function axeFindings(page: Page): Promise<string[]> {
    await page.evaluate(axeSource);
    return page.evaluate<string[]>(
      "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))",
    );
  }

  async function serviceWorker(context: BrowserContext): Promise<Worker> {
    await expect.poll(() => context.serviceWorkers().length).toBe(1);
    return context.serviceWorkers()[0];
  }

  /** The worker's notifications, as the system would show them. */
  const notifications = (worker: Worker) =>
    worker.evaluate<{ title: string; body: string; tag: string; data: unknown }[]>(
      'self.registration.getNotifications().then((shown) => shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })))',
    );

  /** The token the worker keeps (its IndexedDB), or with `replacement`, puts that there instead. */
  const workerToken = (worker: Worker, replacement?: { accessToken: string; expiresAt: number }) =>
    worker.evaluate<{ accessToken: string; expiresAt: number } | undefined>(`new Promise((resolve, reject) => {
      const replacement = ${JSON.stringify(replacement ?? null)};
      const open = indexedDB.open('parley-worker', 1);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const store = open.result.transaction('token', replacement ? 'readwrite' : 'readonly').objectStore('token');
        const request = replacement ? store.put(replacement, 'current') : store.get('current');
        request.onsuccess = () => resolve(replacement ? undefined : request.result);
        request.onerror = () => reject(request.error);
      };
    })`);

  /** Hands a push's payload to the worker as its push event. */
  const deliverPush = (worker: Worker, payload: unknown) =>
    worker.evaluate(`self.dispatchEvent(new PushEvent('push', { data: ${JSON.stringify(JSON.stringify(payload))} }))`);

  /** Waits for the server's push of `messageId` to `subscription` and answers its decrypted payload. */
  async function pushOf(subscription: Subscription, messageId: string) {
    const find = () => service.of(subscription.endpoint).find((push) => push.payload.id === messageId);
    await expect.poll(find, { timeout: 10_000 }).toBeDefined();
    return find()!.payload;
  }

  it('subscribes from the settings switch, shows pushes as notifications, opens their conversation, and unsubscribes at logout', async () => {
    const alice = await user('alice', 'Alice Liddell');
    const bob = await user('bob', 'Bob Builder');
    const directId = await newDirect(app, alice, bob);
    await send(app, bob, directId, 'hello before notifications');
    const subscription = service.newBrowser();
    const context = await newContext({ subscription });
    let page = await logIn(context, alice);

    // The service worker is served at the root, as JavaScript, so its scope is the whole site.
    const script = await app.http().get('/sw.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^(application|text)\/javascript/);
    expect(script.text).not.toMatch(/^import /m);

    // Nothing was asked on page load; the switch asks, once, and subscribes with the server's key.
    expect(await recorded(page)).toEqual({ permissionRequests: 0, subscribeOptions: null });
    await openSettings(page);
    expect(await pushState(page)).toBe('off');
    const subscribed = page.waitForResponse((response) => response.url().endsWith('/api/v1/push/subscriptions') && response.request().method() === 'POST');
    await page.getByTestId('notifications-switch').click();
    expect((await subscribed).status()).toBe(201);
    await expect.poll(() => pushState(page)).toBe('on');
    expect(await page.getByTestId('notifications-switch').isChecked()).toBe(true);
    expect(await recorded(page)).toEqual({ permissionRequests: 1, subscribeOptions: { userVisibleOnly: true, applicationServerKey: vapidKey } });
    const stored = await db.query(`SELECT endpoint FROM push_subscriptions WHERE user_id = $1`, [alice.id]);
    expect(stored.rows).toEqual([{ endpoint: subscription.endpoint }]);
    expect(await axeFindings(page)).toEqual([]);
    await screenshots(page, 'push-settings-on');

    // The worker holds the page's access token (handed over, never refreshed by the worker).
    const worker = await serviceWorker(context);
    const pageToken = await page.evaluate<string>("JSON.parse(localStorage.getItem('parley.session')).token");
    await expect.poll(async () => (await workerToken(worker))?.accessToken).toBe(pageToken);
    expect(await worker.evaluate('self.registration.scope')).toBe(`${app.url}/`);

    // Alice closes Parley: no socket, so Bob's message is pushed; the worker shows it.
    await page.close();
    const presence = async () => (await app.http().get('/api/v1/presence').query({ userIds: alice.id }).set(bob.auth)).body.items[0].status;
    await expect.poll(presence).toBe('offline');
    const message = await send(app, bob, directId, 'lunch at noon?');
    const payload = await pushOf(subscription, message.id);
    expect(payload).toMatchObject({ type: 'message.created', id: message.id, conversationId: directId });
    await deliverPush(worker, payload);
    const expected = { title: 'Bob Builder', body: 'lunch at noon?', tag: `conversation-${directId}`, data: { conversationId: directId } };
    await expect.poll(() => notifications(worker)).toEqual([expected]);

    // A group's notification names the group; an expired token gives the generic one, same tag.
    const groupId = await newGroup(app, bob, [alice], 'Book club');
    const inGroup = await send(app, bob, groupId, 'chapter 3 tonight');
    await deliverPush(worker, await pushOf(subscription, inGroup.id));
    await expect.poll(() => notifications(worker)).toContainEqual({ title: 'Bob Builder in Book club', body: 'chapter 3 tonight', tag: `conversation-${groupId}`, data: { conversationId: groupId } });
    await workerToken(worker, { accessToken: pageToken, expiresAt: Date.now() - 1000 });
    const unread = await send(app, bob, directId, 'are you there?');
    await deliverPush(worker, await pushOf(subscription, unread.id));
    await expect
      .poll(async () => (await notifications(worker)).find((shown) => shown.tag === `conversation-${directId}`))
      .toEqual({ title: 'New message', body: 'Open Parley to read it.', tag: `conversation-${directId}`, data: { conversationId: directId } });

    // Clicking it routes the open tab to the conversation.
    page = await newPage(context);
    await online(page);
    expect(page.url()).toBe(`${app.url}/`);
    await worker.evaluate(`self.registration.getNotifications({ tag: 'conversation-${directId}' })
      .then(([notification]) => self.dispatchEvent(new NotificationEvent('notificationclick', { notification })))`);
    await expect.poll(() => page.url()).toBe(`${app.url}/#/c/${directId}`);
    await expect.poll(() => page.locator('#thread-title').textContent()).toBe('Bob Builder');
    await expect.poll(async () => (await notifications(worker)).map((shown) => shown.tag)).toEqual([`conversation-${groupId}`]);

    // The page hands the worker its token again; logging out deletes the subscription and the token.
    await expect.poll(async () => (await workerToken(worker))?.expiresAt ?? 0).toBeGreaterThan(Date.now());
    const unsubscribed = page.waitForResponse((response) => /\/api\/v1\/push\/subscriptions\/\d+$/.test(response.url()));
    await page.getByTestId('logout').click();
    expect((await unsubscribed).status()).toBe(204);
    expect((await db.query(`SELECT id FROM push_subscriptions WHERE user_id = $1`, [alice.id])).rows).toEqual([]);
    await expect.poll(() => workerToken(worker)).toBeUndefined();
  });

  it('ends the subscription another account left in this browser when someone else logs in', async () => {
    const alice = await user('alice', 'Alice Liddell');
    const carol = await user('carol', 'Carol Danvers');
    const context = await newContext({ subscription: service.newBrowser() });
    let page = await logIn(context, alice);
    await openSettings(page);
    await page.getByTestId('notifications-switch').click();
    await expect.poll(() => pushState(page)).toBe('on');
    const subscribed = () => page.evaluate<string | null>("localStorage.getItem('test.push-subscribed')");
    expect(await subscribed()).toBe('1');

    // Alice's session ends without a logout (its tokens expire); Carol logs in on this browser.
    await page.evaluate("localStorage.removeItem('parley.session')");
    await page.close();
    page = await logIn(context, carol);
    await expect.poll(subscribed).toBeNull();
    const worker = await serviceWorker(context);
    const carolToken = await page.evaluate<string>("JSON.parse(localStorage.getItem('parley.session')).token");
    await expect.poll(async () => (await workerToken(worker))?.accessToken).toBe(carolToken);
    await openSettings(page);
    expect(await pushState(page)).toBe('off');
  });

  it('mutes a conversation from its info panel, and the list marks it', async () => {
    const alice = await user('alice', 'Alice Liddell');
    const bob = await user('bob', 'Bob Builder');
    const carol = await user('carol', 'Carol Danvers');
    const groupId = await newGroup(app, alice, [bob, carol], 'Weekend hike');
    const directId = await newDirect(app, alice, bob);
    await send(app, bob, groupId, 'Saturday, 8 am at the trailhead');
    await send(app, bob, directId, 'see you there');
    const page = await logIn(await newContext(), alice);
    const muted = async (id: string) => (await app.http().get(`/api/v1/conversations/${id}`).set(alice.auth)).body.muted;
    const item = (id: string) => page.locator(`[data-testid="conversation"][data-conversation-id="${id}"]`);

    await item(groupId).click();
    await page.getByTestId('group-info-button').click();
    const toggle = page.getByRole('switch', { name: 'Mute notifications' });
    expect(await toggle.isChecked()).toBe(false);
    await toggle.click();
    await expect.poll(() => muted(groupId)).toBe(true);
    expect(await toggle.isChecked()).toBe(true);
    await expect.poll(() => item(groupId).getByRole('img', { name: 'Muted' }).count()).toBe(1);
    expect(await axeFindings(page)).toEqual([]);
    await screenshots(page, 'push-group-info-muted');

    // A direct conversation has the same switch under Info; unmuting clears the mark.
    await item(directId).click();
    await page.setViewportSize(PHONE);
    await screenshot(page, 'push-direct-header-phone');
    await page.setViewportSize(DESKTOP);
    await page.getByTestId('group-info-button').click();
    expect(await page.getByTestId('group-info-button').textContent()).toBe('Info');
    await page.getByRole('switch', { name: 'Mute notifications' }).click();
    await expect.poll(() => muted(directId)).toBe(true);
    await page.getByRole('switch', { name: 'Mute notifications' }).click();
    await expect.poll(() => muted(directId)).toBe(false);
    // The list redraws once the answer reaches the page, a moment after the database has it.
    await expect.poll(() => item(directId).getByRole('img', { name: 'Muted' }).count()).toBe(0);

    // The list beside the conversation on a desktop; on a phone, back from the conversation.
    await page.getByTestId('close-panel').click();
    await screenshot(page, 'push-list-muted-desktop');
    await page.setViewportSize(PHONE);
    await page.getByRole('button', { name: 'Back to conversations' }).click();
    await screenshot(page, 'push-list-muted-phone');
  });

  it('offers notifications in the sidebar once the user has sent a message, until dismissed', async () => {
    const alice = await user('alice', 'Alice Liddell');
    const bob = await user('bob', 'Bob Builder');
    const directId = await newDirect(app, alice, bob);
    // Not granted: the browser has not been asked yet.
    const page = await logIn(await newContext({ grant: false }), alice);
    const hint = page.getByTestId('notifications-hint');
    expect(await page.evaluate('Notification.permission')).toBe('default');
    expect(await hint.isHidden()).toBe(true);

    const sendFromComposer = async (text: string) => {
      await page.locator(`[data-testid="conversation"][data-conversation-id="${directId}"]`).click();
      await page.getByTestId('composer').fill(text);
      await page.getByTestId('send').click();
      await expect.poll(() => page.locator('.message-body').last().textContent()).toBe(text);
    };
    await sendFromComposer('hi Bob');
    await expect.poll(() => hint.isVisible()).toBe(true);
    expect(await axeFindings(page)).toEqual([]);
    await screenshot(page, 'push-sidebar-hint-desktop');
    await page.setViewportSize(PHONE);
    await page.getByRole('button', { name: 'Back to conversations' }).click();
    await screenshot(page, 'push-sidebar-hint-phone');
    await page.getByTestId('notifications-hint-dismiss').click();
    await page.setViewportSize(DESKTOP);
    expect(await hint.isHidden()).toBe(true);

    // Dismissed for good: not offered again after a reload and another message; nothing asked.
    await page.reload();
    await online(page);
    await sendFromComposer('still there?');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await hint.isHidden()).toBe(true);
    expect((await recorded(page)).permissionRequests).toBe(0);
  });

  it('says when notifications are blocked, not supported, or the push service cannot be reached', async () => {
    const alice = await user('alice', 'Alice Liddell');

    // Blocked: the browser says denied; the switch is off and disabled, with how to unblock.
    const blockedContext = await newContext({ grant: false, init: "Object.defineProperty(Notification, 'permission', { get: () => 'denied' })" });
    let page = await logIn(blockedContext, alice);
    await openSettings(page);
    await expect.poll(() => pushState(page)).toBe('blocked');
    expect(await page.getByTestId('notifications-switch').isDisabled()).toBe(true);
    expect(await page.getByTestId('notifications-state').textContent()).toContain('Allow');
    expect(await axeFindings(page)).toEqual([]);
    await screenshots(page, 'push-settings-blocked');

    // Not supported (as on http at an address other than localhost): no PushManager.
    page = await logIn(await newContext({ init: 'delete window.PushManager' }), alice);
    await openSettings(page);
    await expect.poll(() => pushState(page)).toBe('unsupported');
    expect(await page.getByTestId('notifications-switch').isDisabled()).toBe(true);
    await screenshots(page, 'push-settings-unsupported');

    // The browser's push service is unreachable: failed, and the switch stays usable to try again.
    page = await logIn(await newContext({ subscription: service.newBrowser(), failSubscribe: true }), alice);
    await openSettings(page);
    await page.getByTestId('notifications-switch').click();
    await expect.poll(() => pushState(page)).toBe('failed');
    expect(await page.getByTestId('notifications-switch').isChecked()).toBe(false);
    expect(await page.getByTestId('notifications-switch').isEnabled()).toBe(true);
    expect((await db.query(`SELECT id FROM push_subscriptions WHERE user_id = $1`, [alice.id])).rows).toEqual([]);
    await screenshots(page, 'push-settings-failed');
  });
});
