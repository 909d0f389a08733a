import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../bench/clients.js';

/**
 * The benchmark's load generator parses HTTP/1.1 itself (bench/clients.ts); its figures are
 * only as good as that parsing. Checked here against Node's own HTTP server.
 */
describe('the benchmark HTTP client', () => {
  let server: http.Server;
  let port: number;
  const connections = new Set<unknown>();
  const seen: { method?: string; url?: string; authorization?: string; body: string }[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
        if (req.url === '/json') {
          res.writeHead(201, { 'content-type': 'application/json; charset=utf-8' });
          res.end(JSON.stringify({ echoed: JSON.parse(body || 'null'), text: 'é'.repeat(3) }));
        } else if (req.url === '/chunked') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"parts":');
          setTimeout(() => res.end('[1,2,3]}'), 5);
        } else if (req.url === '/close') {
          res.writeHead(404, { 'content-type': 'text/plain', connection: 'close' });
          res.end('gone');
        } else if (req.url === '/slow') {
          setTimeout(() => res.end('late'), 500);
        } else if (req.url === '/empty') {
          res.writeHead(204);
          res.end();
        } else {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(`socket ${(req.socket as unknown as { id?: number }).id}`);
        }
      });
    });
    let next = 0;
    server.on('connection', (socket) => {
      (socket as unknown as { id: number }).id = next++;
      connections.add(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends method, path, token and JSON body, and parses a JSON answer by its length', async () => {
    const client = new HttpClient('127.0.0.1', port, 4);
    const result = await client.request('POST', '/json', 'abc', { n: 1, s: 'ü' });
    expect(result).toEqual({ status: 201, body: { echoed: { n: 1, s: 'ü' }, text: 'ééé' } });
    expect(seen.at(-1)).toEqual({ method: 'POST', url: '/json', authorization: 'Bearer abc', body: '{"n":1,"s":"ü"}' });
    client.close();
  });

  it('reads a chunked answer that arrives in several packets, and an empty 204', async () => {
    const client = new HttpClient('127.0.0.1', port, 4);
    expect(await client.request('GET', '/chunked')).toEqual({ status: 200, body: { parts: [1, 2, 3] } });
    expect(await client.request('GET', '/empty')).toEqual({ status: 204, body: '' });
    client.close();
  });

  it('keeps connections alive up to its limit and reopens one the server closed', async () => {
    const client = new HttpClient('127.0.0.1', port, 2);
    const first = await Promise.all([1, 2, 3, 4, 5].map(() => client.request('GET', '/who')));
    const sockets = new Set(first.map((result) => result.body));
    expect(sockets.size).toBe(2);
    expect(await client.request('GET', '/close')).toEqual({ status: 404, body: 'gone' });
    const after = await Promise.all([1, 2, 3].map(() => client.request('GET', '/who')));
    expect(after.every((result) => result.status === 200)).toBe(true);
    client.close();
  });

  it('fails a request that gets no answer in time, and one the server refuses to connect', async () => {
    const client = new HttpClient('127.0.0.1', port, 1);
    await expect(client.request('GET', '/slow', undefined, undefined, 100)).rejects.toThrow(/no answer within 100 ms/);
    // The same client goes on working after the timed-out connection was dropped.
    expect((await client.request('GET', '/json', undefined, { ok: true })).status).toBe(201);
    client.close();

    const closedPort = await new Promise<number>((resolve) => {
      const probe = http.createServer().listen(0, '127.0.0.1', () => {
        const free = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(free));
      });
    });
    const refused = new HttpClient('127.0.0.1', closedPort, 1);
    const results = await Promise.allSettled([refused.request('GET', '/a'), refused.request('GET', '/b')]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/ECONNREFUSED/);
  });
});
