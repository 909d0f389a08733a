import { createServer, Socket, type Server } from 'node:net';

export interface TcpProxy {
  /** The target URL with its host and port replaced by the proxy's. */
  url: string;
  /** Drops every open connection and refuses new ones: the target looks unreachable. */
  cut: () => void;
  /** Lets connections through again. */
  restore: () => void;
  /**
   * Passes no data either way, and takes new connections without passing theirs on, yet
   * closes nothing: a network that drops every packet, or a server that has hung.
   */
  freeze: () => void;
  /** Passes data again, what was held back included, as TCP would once the network heals. */
  thaw: () => void;
  close: () => Promise<void>;
}

/**
 * A TCP proxy in front of a server (the test database), so a test can make it unreachable for
 * one app without touching the server that the other suites share.
 */
export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const open = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let cut = false;
  let frozen = false;
  const link = ([client, upstream]: [Socket, Socket]) => {
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const server: Server = createServer((client) => {
    if (cut) return client.destroy();
    const upstream = new Socket();
    const pair: [Socket, Socket] = [client, upstream];
    open.add(client).add(upstream);
    client.pause();
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
      pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.connect(Number(target.port || 5432), target.hostname, () => {
      pairs.add(pair);
      if (!frozen) link(pair);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    cut: () => {
      cut = true;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    restore: () => {
      cut = false;
    },
    freeze: () => {
      frozen = true;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream).pause();
        upstream.unpipe(client).pause();
      }
    },
    thaw: () => {
      frozen = false;
      for (const pair of pairs) link(pair);
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
