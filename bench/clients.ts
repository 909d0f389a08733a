import net from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

/**
 * The load generator's two clients: a keep-alive HTTP/1.1 client on bare sockets, and a `ws`
 * socket that timestamps every message frame on arrival.
 *
 * The HTTP client writes each request in one `write` and parses only what it needs (status,
 * content type, length or chunks). The harness shares 2 cores with the server and
 * PostgreSQL, and `node:http` cost it about a quarter of a core at 64 senders (profiled:
 * agent bookkeeping, header objects, a `writev` per request); `fetch` costs several times more.
 */

export interface HttpResult {
  status: number;
  body: any;
}

interface Exchange {
  head: string;
  request: string;
  resolve: (result: HttpResult) => void;
  reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
  /** Where it was sent; undefined while it waits for a connection. */
  connection?: Connection;
}

/** One keep-alive connection carrying one request at a time. */
class Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private current?: Exchange;
  closed = false;

  constructor(
    readonly socket: net.Socket,
    private readonly onIdle: (connection: Connection) => void,
    private readonly onClosed: (connection: Connection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.close(error));
    socket.on('close', () => this.close(new Error('connection closed by the server')));
  }

  send(exchange: Exchange): void {
    this.current = exchange;
    exchange.connection = this;
    this.socket.write(exchange.request);
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const exchange = this.current;
    if (!exchange) return void this.close(new Error('bytes from the server with no request out'));
    const parsed = parseResponse(this.buffered);
    if (parsed === undefined) return; // Not all of it yet.
    if (parsed instanceof Error) return void this.close(parsed);
    clearTimeout(exchange.timer);
    this.current = undefined;
    this.buffered = this.buffered.subarray(parsed.length);
    exchange.resolve(parsed.result);
    if (parsed.keepAlive) this.onIdle(this);
    else this.close();
  }

  /** Fails the request out on it, if any, with `error`. */
  close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const exchange = this.current;
    this.current = undefined;
    if (exchange) {
      clearTimeout(exchange.timer);
      exchange.reject(error ?? new Error(`${exchange.head}: connection closed`));
    }
    this.onClosed(this);
  }
}

/** A whole response at the start of `bytes`, undefined if more must arrive first. */
function parseResponse(bytes: Buffer): { result: HttpResult; length: number; keepAlive: boolean } | Error | undefined {
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd < 0) return bytes.length > 64 * 1024 ? new Error('response head over 64 KB') : undefined;
  const lines = bytes.toString('latin1', 0, headEnd).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!status) return new Error(`not an HTTP response: ${lines[0].slice(0, 80)}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const bodyStart = headEnd + 4;
  let body: Buffer;
  let length: number;
  if (headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
    const chunks = readChunks(bytes, bodyStart);
    if (chunks === undefined) return undefined;
    ({ body, length } = chunks);
  } else {
    const contentLength = Number(headers.get('content-length') ?? 0);
    if (bytes.length < bodyStart + contentLength) return undefined;
    body = bytes.subarray(bodyStart, bodyStart + contentLength);
    length = bodyStart + contentLength;
  }
  const text = body.toString();
  let parsed: unknown = text;
  if (text && (headers.get('content-type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      // Leave it as text; the caller reports it.
    }
  }
  const keepAlive = headers.get('connection')?.toLowerCase() !== 'close';
  return { result: { status: Number(status[1]), body: parsed }, length, keepAlive };
}

/** A chunked body starting at `offset`, undefined until its last chunk has arrived. */
function readChunks(bytes: Buffer, offset: number): { body: Buffer; length: number } | undefined {
  const parts: Buffer[] = [];
  for (let at = offset; ; ) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(bytes.toString('latin1', at, lineEnd), 16);
    const dataStart = lineEnd + 2;
    if (bytes.length < dataStart + size + 2) return undefined;
    if (size === 0) return { body: Buffer.concat(parts), length: dataStart + 2 };
    parts.push(bytes.subarray(dataStart, dataStart + size));
    at = dataStart + size + 2;
  }
}

export class HttpClient {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: Exchange[] = [];
  private connecting = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly maxSockets: number,
  ) {}

  /** One JSON request. Rejects on a network error or after `timeoutMs`; any status resolves. */
  request(method: string, path: string, token?: string, body?: unknown, timeoutMs = 10_000, headers?: Record<string, string>): Promise<HttpResult> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    let request = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n`;
    if (token) request += `Authorization: Bearer ${token}\r\n`;
    for (const [name, value] of Object.entries(headers ?? {})) request += `${name}: ${value}\r\n`;
    if (body !== undefined) request += `Content-Type: application/json\r\n`;
    if (body !== undefined || method !== 'GET') request += `Content-Length: ${Buffer.byteLength(payload)}\r\n`;
    request += `\r\n${payload}`;
    return new Promise((resolve, reject) => {
      const exchange: Exchange = { head: `${method} ${path}`, request, resolve, reject };
      exchange.timer = setTimeout(() => {
        const error = new Error(`${exchange.head}: no answer within ${timeoutMs} ms`);
        if (exchange.connection) return exchange.connection.close(error);
        this.waiting.splice(this.waiting.indexOf(exchange), 1);
        reject(error);
      }, timeoutMs);
      const connection = this.idle.pop();
      if (connection) connection.send(exchange);
      else {
        this.waiting.push(exchange);
        this.connectIfNeeded();
      }
    });
  }

  /** Opens a connection when requests wait that the connections being opened will not take. */
  private connectIfNeeded(): void {
    if (this.waiting.length <= this.connecting || this.all.size + this.connecting >= this.maxSockets) return;
    this.connecting++;
    const socket = net.connect(this.port, this.host);
    socket.once('error', (error) => {
      this.connecting--;
      // Nothing was sent on it: the oldest waiting request fails with the reason.
      const exchange = this.waiting.shift();
      if (exchange) {
        clearTimeout(exchange.timer);
        exchange.reject(error);
      }
      this.connectIfNeeded();
    });
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      this.connecting--;
      const connection = new Connection(
        socket,
        (idle) => this.dispatch(idle),
        (closed) => {
          this.all.delete(closed);
          const index = this.idle.indexOf(closed);
          if (index >= 0) this.idle.splice(index, 1);
          this.connectIfNeeded();
        },
      );
      this.all.add(connection);
      this.dispatch(connection);
    });
  }

  private dispatch(connection: Connection): void {
    const next = this.waiting.shift();
    if (next) connection.send(next);
    else this.idle.push(connection);
  }

  close(): void {
    for (const connection of [...this.all]) connection.close(new Error('client closed'));
    for (const exchange of this.waiting.splice(0)) {
      clearTimeout(exchange.timer);
      exchange.reject(new Error('client closed'));
    }
  }
}

/** Non-2xx answers and network errors of one phase, by kind, so the report can name them. */
export class ErrorCounter {
  total = 0;
  readonly byKind = new Map<string, number>();
  readonly samples: string[] = [];

  add(kind: string, detail?: string): void {
    this.total++;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    if (this.samples.length < 5) this.samples.push(detail ? `${kind}: ${detail}` : kind);
  }

  /** Counts a non-2xx answer; true when the answer was 2xx. */
  check(what: string, result: HttpResult): boolean {
    if (result.status >= 200 && result.status < 300) return true;
    this.add(`${what} HTTP ${result.status}`, JSON.stringify(result.body).slice(0, 200));
    return false;
  }

  toJSON() {
    return { total: this.total, byKind: Object.fromEntries(this.byKind), samples: this.samples };
  }
}

/**
 * One open /ws connection. Records, per message id, when its first `message.created` frame
 * arrived and how many extra copies came after it; waiters let a flow block on one id.
 */
export class BenchSocket {
  /** message id -> arrival time (performance.now()) of its first frame. */
  readonly seen = new Map<string, number>();
  /** message id -> copies received after the first. */
  readonly duplicates = new Map<string, number>();
  closeCode?: number;
  private readonly waiters = new Map<string, () => void>();
  /** Called on every first arrival (the fan-out scenario counts members with it). */
  onArrival?: (id: string, at: number) => void;

  constructor(
    readonly ws: WebSocket,
    readonly userId: string,
  ) {
    ws.on('message', (data) => this.handle(data as Buffer));
    ws.on('close', (code) => (this.closeCode = code));
  }

  private handle(data: Buffer): void {
    const at = performance.now();
    let frame: { type?: string; id?: string };
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (frame.type !== 'message.created' || typeof frame.id !== 'string') return;
    const id = frame.id;
    if (this.seen.has(id)) {
      this.duplicates.set(id, (this.duplicates.get(id) ?? 0) + 1);
      return;
    }
    this.seen.set(id, at);
    this.onArrival?.(id, at);
    const waiter = this.waiters.get(id);
    if (waiter) {
      this.waiters.delete(id);
      waiter();
    }
  }

  /** Resolves true once the frame for `id` has arrived (possibly already), false after the timeout. */
  waitFor(id: string, timeoutMs: number): Promise<boolean> {
    if (this.seen.has(id)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        resolve(false);
      }, timeoutMs);
      this.waiters.set(id, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Forgets what arrived, between phases. */
  reset(): void {
    this.seen.clear();
    this.duplicates.clear();
  }

  close(): void {
    this.ws.terminate();
  }
}

export interface OpenOptions {
  url: string;
  /** Spread sockets over these source addresses (127.0.0.x), so ephemeral ports do not run short. */
  localAddresses?: string[];
  timeoutMs?: number;
}

/**
 * Opens a socket and resolves once `ready` has arrived (by then the server has registered it,
 * so nothing published afterwards is missed). Rejects with the handshake status on a refusal.
 */
export function openSocket(user: { id: string; token: string }, options: OpenOptions, index = 0): Promise<BenchSocket> {
  const localAddress = options.localAddresses?.[index % options.localAddresses.length];
  const ws = new WebSocket(options.url, {
    headers: { authorization: `Bearer ${user.token}` },
    perMessageDeflate: false,
    ...(localAddress ? { localAddress } : {}),
  });
  const socket = new BenchSocket(ws, user.id);
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`no ready frame within ${timeoutMs} ms`)), timeoutMs);
    // Listen before the handshake completes: `ready` can arrive in the same packet as the upgrade.
    const onReady = (data: WebSocket.RawData) => {
      if (settled || !String(data).includes('"ready"')) return;
      settled = true;
      ws.off('message', onReady);
      clearTimeout(timer);
      resolve(socket);
    };
    ws.on('message', onReady);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`handshake refused: HTTP ${res.statusCode}`)));
    // Stays registered: an 'error' without a listener would crash the harness.
    ws.on('error', (error) => fail(error));
    ws.on('close', (code) => fail(new Error(`closed with ${code} before ready`)));
  });
}

export interface OpenManyResult {
  sockets: BenchSocket[];
  failures: ErrorCounter;
  /** Time from each connect start to its `ready` frame, ms. */
  connectMs: number[];
  elapsedMs: number;
}

/** Opens one socket per user with at most `concurrency` handshakes in flight. */
export async function openSockets(
  users: { id: string; token: string }[],
  options: OpenOptions & { concurrency: number; deadlineMs?: number },
): Promise<OpenManyResult> {
  const sockets: BenchSocket[] = [];
  const failures = new ErrorCounter();
  const connectMs: number[] = [];
  const started = performance.now();
  const deadline = started + (options.deadlineMs ?? 120_000);
  let next = 0;
  const worker = async () => {
    while (next < users.length && performance.now() < deadline) {
      const index = next++;
      const t0 = performance.now();
      try {
        sockets.push(await openSocket(users[index], options, index));
        connectMs.push(performance.now() - t0);
      } catch (error) {
        failures.add(`connect: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, users.length) }, worker));
  const missing = users.length - sockets.length - failures.total;
  if (missing > 0) failures.add(`connect: ${missing} not attempted before the deadline`);
  return { sockets, failures, connectMs, elapsedMs: performance.now() - started };
}

export function closeSockets(sockets: BenchSocket[]): void {
  for (const socket of sockets) socket.close();
}

// ---- statistics -------------------------------------------------------------------------

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of a list of milliseconds. */
export function summarize(values: number[]): Summary {
  if (values.length === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from(values).sort();
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  let sum = 0;
  for (const value of sorted) sum += value;
  return { count: sorted.length, p50: rank(0.5), p99: rank(0.99), max: sorted[sorted.length - 1], mean: sum / sorted.length };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
