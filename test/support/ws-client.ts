import WebSocket from 'ws';
import type { ServerFrame } from '../../src/notifications/frames.js';

/**
 * A real `ws` client that records every frame, so tests can wait for one that matches
 * (with a timeout) or assert that none arrives.
 */
export class TestSocket {
  readonly frames: ServerFrame[] = [];
  closeCode?: number;
  private waiters: Array<() => void> = [];
  private closed: Promise<number>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()));
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code) => {
        this.closeCode = code;
        this.wake();
        resolve(code);
      }),
    );
  }

  /** Opens a socket and waits for `ready`. */
  static async connect(url: string, options: ConnectOptions = {}): Promise<TestSocket> {
    const client = await TestSocket.open(url, options);
    await client.next((frame) => frame.type === 'ready');
    return client;
  }

  /** Opens a socket; rejects with the HTTP status when the handshake is refused. */
  static open(url: string, options: ConnectOptions = {}): Promise<TestSocket> {
    const target = options.ticket ? `${url}?ticket=${encodeURIComponent(options.ticket)}` : url;
    const headers: Record<string, string> = {};
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    const socket = new WebSocket(target, { headers, origin: options.origin });
    // Listen before the handshake ends: `ready` can arrive in the same packet as the upgrade.
    const client = new TestSocket(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_request, response) => {
        reject(new HandshakeRefused(response.statusCode ?? 0));
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  /** Waits for the first recorded frame matching `match` that has not been taken yet. */
  async next<T extends ServerFrame = ServerFrame>(match: (frame: ServerFrame) => boolean, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex(match);
      if (index >= 0) return this.frames.splice(index, 1)[0] as T;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`No matching frame within ${timeoutMs} ms; have ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** All frames matching `match` seen within `ms` (taken from the record). */
  async collect(match: (frame: ServerFrame) => boolean, ms: number): Promise<ServerFrame[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const taken = this.frames.filter(match);
    for (const frame of taken) this.frames.splice(this.frames.indexOf(frame), 1);
    return taken;
  }

  send(data: string | Buffer): void {
    this.socket.send(data);
  }

  waitForClose(timeoutMs = 5000): Promise<number> {
    return Promise.race([
      this.closed,
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error('socket did not close')), timeoutMs)),
    ]);
  }

  close(): void {
    this.socket.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

interface ConnectOptions {
  token?: string;
  ticket?: string;
  origin?: string;
}

export class HandshakeRefused extends Error {
  constructor(readonly status: number) {
    super(`handshake refused with HTTP ${status}`);
  }
}

/** Frames about one message. */
export const forMessage = (id: string, type?: string) => (frame: ServerFrame) =>
  'id' in frame && frame.id === id && (type === undefined || frame.type === type);
