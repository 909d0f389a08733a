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
 * request: `answer(connection, requestIndex)` returns whether to answer 204, to reset, or to
 * answer 200 with a body that never ends.
 */
async function receiver(answer: (connection: number, request: number) => 'ok' | 'reset' | 'endless'): Promise<{ destination: Destination; connections: () => number }> {
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
        const how = answer(connection, ++requests);
        if (how === 'reset') return void socket.resetAndDestroy();
        if (how === 'endless') return void socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${`10000\r\n${'x'.repeat(0x10000)}\r\n`.repeat(2)}`);
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
  it('keeps connections to a destination for the next deliveries', async () => {
    const { destination, connections } = await receiver(() => 'ok');
    for (let i = 0; i < 10; i++) expect(await post(destination)).toEqual({ ok: true, status: 204 });
    // A connection whose answer has just ended is free again a moment later: the very next
    // request may take a second one, and then they take turns.
    expect(connections()).toBeLessThanOrEqual(2);
  });

  it('sends at most 16 requests to one destination at once, on connections it then keeps', async () => {
    const { destination, connections } = await receiver(() => 'ok');
    const outcomes = await Promise.all(Array.from({ length: 64 }, () => post(destination)));
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    expect(connections()).toBe(16);
    await Promise.all(Array.from({ length: 64 }, () => post(destination)));
    expect(connections()).toBe(16);
  });

  it('tries once more when a kept connection is reset as it is reused', async () => {
    // The first request to come on a connection that has answered before is reset, as by a
    // server closing it idle.
    let resets = 0;
    const { destination } = await receiver((_connection, request) => (request > 1 && resets === 0 ? (resets++, 'reset') : 'ok'));
    for (let i = 0; i < 4; i++) expect(await post(destination)).toEqual({ ok: true, status: 204 });
    expect(resets).toBe(1);
  });

  it('does not try again when a new connection is reset: that is the destination failing', async () => {
    const { destination, connections } = await receiver(() => 'reset');
    const outcome = await post(destination);
    expect(outcome.ok).toBe(false);
    expect(connections()).toBe(1);
  });

  it('counts a 2xx whose body goes on past 64 KB as it stands, and reads no further', async () => {
    const { destination } = await receiver(() => 'endless');
    expect(await post(destination)).toEqual({ ok: true, status: 200 });
  });
});
