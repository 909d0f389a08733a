import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { newDirect, newUser, send } from '../support/factories.js';
import { forMessage, TestSocket } from '../support/ws-client.js';

let app: TestApp;

beforeAll(async () => {
  app = await startApp();
});

afterAll(async () => {
  await app.close();
});

async function scrape(): Promise<string> {
  const response = await app.http().get('/metrics');
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
  it('is public Prometheus text with every documented metric', async () => {
    const response = await app.http().get('/metrics');
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
    expect(sample(response.text, 'parley_db_pool_max')).toBe(4);
    expect(sample(response.text, 'parley_db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(1);
  });

  it('changes after a message is sent: stored, notified, latency, request durations by route, connections', async () => {
    const [alice, bob] = [await newUser(app, 'alice'), await newUser(app, 'bob')];
    const conversationId = await newDirect(app, alice, bob);
    const sockets = [await TestSocket.connect(app.wsUrl, { token: alice.token }), await TestSocket.connect(app.wsUrl, { token: bob.token })];
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
