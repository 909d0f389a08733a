import { Logger } from '@nestjs/common';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MetricsListener } from '../../src/metrics/metrics-listener.js';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newUser, send } from '../support/factories.js';
import { forMessage, TestSocket } from '../support/ws-client.js';

const METRICS_TOKEN = 'metrics-token-for-the-tests';
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

let app: TestApp;

beforeAll(async () => {
  app = await startApp({ METRICS_TOKEN });
});

afterAll(async () => {
  await app.close();
});

async function scrape(): Promise<string> {
  const response = await app.http().get('/metrics').set(bearer(METRICS_TOKEN));
  expect(response.status).toBe(200);
  return response.text;
}

/** The value of one sample (labels in any order), or 0 when the series does not exist yet. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) return Number(match[3]);
  }
  return 0;
}

describe('GET /metrics', () => {
  it('is Prometheus text with every documented metric, to the bearer of METRICS_TOKEN', async () => {
    const response = await app.http().get('/metrics').set(bearer(METRICS_TOKEN));
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    for (const name of [
      'parley_http_request_duration_seconds',
      'parley_ws_connections',
      'parley_messages_stored_total',
      'parley_notifications_sent_total',
      'parley_notification_latency_seconds',
      'parley_send_batch_size',
      'parley_db_pool_connections',
      'parley_db_pool_max',
      'parley_process_cpu_seconds_total',
      'parley_nodejs_eventloop_lag_seconds',
    ]) {
      expect(response.text).toContain(`# TYPE ${name} `);
    }
    // Not the ones whose scrape walks every socket's handle (180 ms with 15,000 sockets).
    for (const name of ['parley_nodejs_active_handles', 'parley_nodejs_active_resources']) expect(response.text).not.toContain(`# TYPE ${name} `);
    if (process.platform === 'linux') expect(sample(response.text, 'parley_process_open_fds')).toBeGreaterThan(10);
    expect(sample(response.text, 'parley_db_pool_max')).toBe(4);
    expect(sample(response.text, 'parley_db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(1);
  });

  it('changes after a message is sent: stored, notified, latency, request durations by route, connections', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const conversationId = await newDirect(app, alice, bob);
    const sockets = [await TestSocket.connect(app.wsUrl, { token: alice.token }), await TestSocket.connect(app.wsUrl, { token: bob.token })];
    // Bob coming online is announced to Alice, a notification of its own: counted before `before`.
    await sockets[0].next((frame) => frame.type === 'presence' && frame.userId === bob.id);
    const before = await scrape();
    expect(sample(before, 'parley_ws_connections')).toBe(2);

    const message = await send(app, alice, conversationId, 'counted');
    for (const socket of sockets) await socket.next(forMessage(message.id, 'message.created'));
    expect((await app.http().get(`/api/v1/messages/${message.id}`).set(bob.auth)).status).toBe(200);
    expect((await app.http().get('/no/such/route')).status).toBe(404);
    const after = await scrape();

    expect(sample(after, 'parley_messages_stored_total') - sample(before, 'parley_messages_stored_total')).toBe(1);
    expect(sample(after, 'parley_notifications_sent_total') - sample(before, 'parley_notifications_sent_total')).toBe(2);
    const latency = (text: string) => sample(text, 'parley_notification_latency_seconds_count', { type: 'message.created' });
    expect(latency(after) - latency(before)).toBe(1);
    // A lone send is a batch of one.
    const batches = (text: string, le: string) => sample(text, 'parley_send_batch_size_bucket', { le });
    expect(batches(after, '1') - batches(before, '1')).toBe(1);
    expect(sample(after, 'parley_notification_latency_seconds_sum', { type: 'message.created' })).toBeGreaterThan(0);

    const requests = (text: string, route: string, method: string, status: string) =>
      sample(text, 'parley_http_request_duration_seconds_count', { method, route, status_code: status });
    expect(requests(after, '/api/v1/messages', 'POST', '201') - requests(before, '/api/v1/messages', 'POST', '201')).toBe(1);
    // Labelled by route pattern, never by the raw URL (ids would multiply the series).
    expect(requests(after, '/api/v1/messages/:id', 'GET', '200')).toBeGreaterThanOrEqual(1);
    expect(after).not.toContain(`route="/api/v1/messages/${message.id}"`);
    expect(requests(after, 'unmatched', 'GET', '404')).toBeGreaterThanOrEqual(1);
    expect(after).not.toContain('/no/such/route');

    for (const socket of sockets) {
      socket.close();
      await socket.waitForClose();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sample(await scrape(), 'parley_ws_connections')).toBe(0);
  });
});

/** What an unknown route answers: /metrics must look no different where it is not served. */
async function expectNotServed(response: supertest.Response, path = '/metrics'): Promise<void> {
  expect(response.status).toBe(404);
  expect(response.body).toEqual({ statusCode: 404, error: 'Not Found', message: `Cannot GET ${path}` });
  expect(response.text).not.toContain('parley_');
}

async function expectHealthPublic(target: TestApp): Promise<void> {
  expect((await target.http().get('/health/live')).status).toBe(200);
  expect((await target.http().get('/health/ready')).status).toBe(200);
}

describe('GET /metrics with METRICS_TOKEN', () => {
  it('refuses a request without the token, or with another, with 401 in the error shape', async () => {
    for (const headers of [{}, bearer('metrics-token-for-the-testz'), bearer('short'), { Authorization: METRICS_TOKEN }, { Authorization: `Basic ${METRICS_TOKEN}` }]) {
      const response = await app.http().get('/metrics').set(headers);
      expect(response.status, JSON.stringify(headers)).toBe(401);
      expect(response.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'A metrics token is required: Authorization: Bearer <METRICS_TOKEN>' });
      expect(response.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(response.text).not.toContain('parley_');
    }
    // A user's access token is not a metrics token.
    const user = await newUser(app);
    expect((await app.http().get('/metrics').set(user.auth)).status).toBe(401);
  });

  it('leaves /health/live and /health/ready public', async () => {
    await expectHealthPublic(app);
  });
});

describe('GET /metrics with neither METRICS_TOKEN nor METRICS_PORT', () => {
  let plain: TestApp;
  let notices: string[];

  beforeAll(async () => {
    const log = vi.spyOn(Logger.prototype, 'log');
    try {
      plain = await startApp();
      notices = log.mock.calls.map(([message]) => String(message)).filter((message) => message.includes('METRICS_'));
    } finally {
      log.mockRestore();
    }
  });

  afterAll(async () => {
    await plain.close();
  });

  it('answers 404, as an unknown route, whatever the request carries', async () => {
    await expectNotServed(await plain.http().get('/metrics'));
    await expectNotServed(await plain.http().get('/metrics').set(bearer(METRICS_TOKEN)));
  });

  it('says once at start how to turn metrics on', () => {
    expect(notices).toEqual([expect.stringMatching(/^Metrics are off: set METRICS_TOKEN .* or METRICS_PORT /)]);
  });

  it('leaves /health/live and /health/ready public', async () => {
    await expectHealthPublic(plain);
  });
});

describe('GET /metrics with METRICS_PORT', () => {
  /** The metrics listener of `target`, on the free port METRICS_PORT=0 chose. */
  const metricsUrl = (target: TestApp) => {
    const address = target.app.get(MetricsListener).address();
    expect(address?.address).toBe('127.0.0.1');
    return `http://127.0.0.1:${address!.port}`;
  };

  it('serves /metrics on a separate loopback listener only, and closes it on shutdown', async () => {
    const separate = await startApp({ METRICS_PORT: '0' });
    const url = metricsUrl(separate);
    try {
      await expectNotServed(await separate.http().get('/metrics'));
      await expectHealthPublic(separate);
      const response = await supertest(url).get('/metrics');
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(response.text).toContain('# TYPE parley_messages_stored_total ');
      // Nothing else is served there: not the API, not the health checks.
      for (const path of ['/health/live', '/api/v1/users/me', '/']) await expectNotServed(await supertest(url).get(path), path);
      expect((await supertest(url).post('/metrics')).status).toBe(404);
    } finally {
      await separate.close();
    }
    await expect(supertest(url).get('/metrics')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('asks for the token there too when METRICS_TOKEN is set', async () => {
    const both = await startApp({ METRICS_PORT: '0', METRICS_TOKEN });
    try {
      const url = metricsUrl(both);
      const refused = await supertest(url).get('/metrics');
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'A metrics token is required: Authorization: Bearer <METRICS_TOKEN>' });
      expect((await supertest(url).get('/metrics').set(bearer(METRICS_TOKEN))).status).toBe(200);
      expect((await both.http().get('/metrics').set(bearer(METRICS_TOKEN))).status).toBe(200);
    } finally {
      await both.close();
    }
  });
});
