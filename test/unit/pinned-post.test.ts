import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Destination } from '../../src/deliveries/destination.js';
import { postTo } from '../../src/deliveries/pinned-post.js';

const servers: TcpServer[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  // The client keeps its connections open: closed here, or the servers would wait for them.
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/**
 * A receiver on a raw socket, so that the test decides what each connection does with each
 * request: `answer(connection, requestIndex)` returns whether to answer 204 or to reset.
 */
async function receiver(answer: (connection: number, request: number) => 'ok' | 'reset'): Promise<{ destination: Destination; connections: () => number }> {
  let connections = 0;
  const server = createTcpServer((socket: Socket) => {
    const connection = ++connections;
    sockets.push(socket);
    let requests = 0;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      // Each request here is a small POST whose body is "{}": its end is the body after the headers.
      while (buffered.includes('\r\n\r\n{}')) {
        buffered = buffered.slice(buffered.indexOf('\r\n\r\n{}') + 6);
        if (answer(connection, ++requests) === 'reset') return void socket.resetAndDestroy();
        socket.write('HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n');
      }
    });
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const destination = { url: new URL(`http://receiver.test:${port}/hook`), pinned: { address: '127.0.0.1', family: 4 as const } };
  return { destination, connections: () => connections };
}

const post = (destination: Destination) => postTo(destination, { 'content-type': 'application/json' }, '{}');

describe('postTo', () => {
  it('keeps the connection to a destination for the next delivery', async () => {
    const { destination, connections } = await receiver(() => 'ok');
    for (let i = 0; i < 5; i++) expect(await post(destination)).toEqual({ ok: true, status: 204 });
    expect(connections()).toBe(1);
  });

  it('sends at most 16 requests to one destination at once, on connections it then keeps', async () => {
    const { destination, connections } = await receiver(() => 'ok');
    const outcomes = await Promise.all(Array.from({ length: 64 }, () => post(destination)));
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    expect(connections()).toBe(16);
    await Promise.all(Array.from({ length: 64 }, () => post(destination)));
    expect(connections()).toBe(16);
  });

  it('tries once more on a new connection when a kept one is reset as it is reused', async () => {
    // The second request on the first connection is reset, as by a server closing it idle.
    const { destination, connections } = await receiver((connection, request) => (connection === 1 && request === 2 ? 'reset' : 'ok'));
    expect(await post(destination)).toEqual({ ok: true, status: 204 });
    expect(await post(destination)).toEqual({ ok: true, status: 204 });
    expect(connections()).toBe(2);
  });

  it('does not try again when a new connection is reset: that is the destination failing', async () => {
    const { destination, connections } = await receiver(() => 'reset');
    const outcome = await post(destination);
    expect(outcome.ok).toBe(false);
    expect(connections()).toBe(1);
  });
});
