import http from 'node:http';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

/**
 * The load generator's two clients: a keep-alive `node:http` client (fetch costs several times
 * more CPU per request, and the harness shares 2 cores with the server and PostgreSQL) and a
 * `ws` socket that timestamps every message frame on arrival.
 */

export interface HttpResult {
  status: number;
  body: any;
}

export class HttpClient {
  readonly agent: http.Agent;

  constructor(
    private readonly host: string,
    private readonly port: number,
    maxSockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /** One JSON request. Rejects on a network error or after `timeoutMs`; any status resolves. */
  request(method: string, path: string, token?: string, body?: unknown, timeoutMs = 10_000): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers: Record<string, string | number> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      const req = http.request({ host: this.host, port: this.port, method, path, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = text;
          if (text && (res.headers['content-type'] ?? '').includes('json')) {
            try {
              parsed = JSON.parse(text);
            } catch {
              // Leave it as text; the caller reports it.
            }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
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
