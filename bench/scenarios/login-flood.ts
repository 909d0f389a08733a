import { performance } from 'node:perf_hooks';
import { ErrorCounter, HttpClient, openSocket, sleep, summarize, type Summary } from '../clients.js';
import type { CpuUse } from '../cpu.js';
import type { ServerInstance } from '../server.js';
import { settleAndCheck, type SentMessage, type Timing } from './common.js';

/** What the page and one sender saw over one window. */
export interface ProbeFigures {
  /** `GET /` (the web client's page), ms. */
  pageMs: Summary;
  /** The sender's POST /api/v1/messages, ms. */
  sendMs: Summary;
  /** The sender's POST start → the recipient's frame, ms. */
  notificationMs: Summary;
}

export interface LoginFloodResult {
  clients: number;
  measureMs: number;
  scryptCost: number;
  quiet: ProbeFigures;
  flood: ProbeFigures & {
    loginsPerSecond: number;
    /** Logins answered 200 and 503 within the measured window. */
    loggedIn: number;
    refused: number;
    /** Time to a 200, and to a 503, ms. */
    loginMs: Summary;
    refusedMs: Summary;
  };
  lost: number;
  duplicated: number;
  stray: number;
  /** Failed page loads, sends and logins answered other than 200 or 503. */
  errors: ReturnType<ErrorCounter['toJSON']>;
  deliverySamples: string[];
  cpu?: CpuUse;
}

const PAGE_INTERVAL_MS = 100;
const SEND_INTERVAL_MS = 50;
/** A refused client tries again after the shortest Retry-After the server gives (1 s). */
const RETRY_AFTER_503_MS = 1000;
/** Each window is measured at least this long, even in quick mode: a hash takes about half a second. */
const MIN_MEASURE_MS = 10_000;

/**
 * Issue 34's login flood on a server of its own hashing at the real scrypt cost: `clients`
 * closed loops logging in to one account from as many addresses (X-Forwarded-For), each trying
 * again 1 s after a 503, while the page is fetched every 100 ms and one sender posts into a
 * direct conversation every 50 ms. The page and the sender are measured first without the
 * flood, then during it.
 */
export async function loginFlood(server: ServerInstance, timing: Timing, clients: number, scryptCost: number): Promise<LoginFloodResult> {
  const errors = new ErrorCounter();
  const password = 'bench login flood password';
  const register = async (name: string) => {
    const username = `flood_${name}_${process.pid}`;
    const result = await server.http.request('POST', '/api/v1/auth/register', undefined, { username, password }, 30_000);
    if (result.status !== 201) throw new Error(`could not register ${username}: ${result.status} ${JSON.stringify(result.body)}`);
    return { id: String(result.body.user.id), username, token: String(result.body.accessToken) };
  };
  const sender = await register('sender');
  const recipient = await register('recipient');
  const direct = await server.http.request('POST', '/api/v1/conversations', sender.token, { type: 'direct', userId: recipient.id });
  if (!errors.check('POST /api/v1/conversations', direct)) throw new Error(`could not create the conversation: ${errors.samples.join('; ')}`);
  const conversationId = String(direct.body.id);
  const recipientSocket = await openSocket(recipient, { url: server.wsUrl });
  // The flood has connections of its own, so that the probes never wait for one behind it.
  const floodHttp = new HttpClient('127.0.0.1', server.port, clients);
  const measureMs = Math.max(timing.measureMs, MIN_MEASURE_MS);
  try {
    const window = async (flooding: boolean) => {
      const start = performance.now();
      const measureStart = start + timing.warmupMs;
      const end = measureStart + measureMs;
      const pageMs: number[] = [];
      const sendMs: number[] = [];
      const loginMs: number[] = [];
      const refusedMs: number[] = [];
      const sent: SentMessage[] = [];
      const measuring = (t0: number) => t0 >= measureStart && t0 < end;
      const pages = async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          const page = await server.http.request('GET', '/', undefined, undefined, 30_000).catch((error: Error) => ({ status: 0, body: error.message }));
          if (errors.check('GET /', page) && measuring(t0)) pageMs.push(performance.now() - t0);
          await sleep(PAGE_INTERVAL_MS);
        }
      };
      const sends = async () => {
        for (let i = 0; performance.now() < end; i++) {
          const t0 = performance.now();
          const post = await server.http
            .request('POST', '/api/v1/messages', sender.token, { conversationId, body: `flood probe ${i}` }, 30_000)
            .catch((error: Error) => ({ status: 0, body: error.message }));
          if (errors.check('POST /api/v1/messages', post)) {
            sent.push({ id: String(post.body.id), t0, sockets: [recipientSocket], measured: measuring(t0) });
            if (measuring(t0)) sendMs.push(performance.now() - t0);
          }
          await sleep(SEND_INTERVAL_MS);
        }
      };
      const logins = async (client: number) => {
        const headers = { 'X-Forwarded-For': `10.34.${client >> 8}.${client & 255}` };
        while (performance.now() < end) {
          const t0 = performance.now();
          const login = await floodHttp
            .request('POST', '/api/v1/auth/login', undefined, { username: sender.username, password }, 60_000, headers)
            .catch((error: Error) => ({ status: 0, body: error.message }));
          const t1 = performance.now();
          // Counted when answered: an accepted login may have waited longer than the window.
          const answeredInWindow = t1 >= measureStart && t1 < end;
          if (login.status === 200) {
            if (answeredInWindow) loginMs.push(t1 - t0);
          } else if (login.status === 503) {
            if (answeredInWindow) refusedMs.push(t1 - t0);
            await sleep(RETRY_AFTER_503_MS);
          } else errors.check('POST /api/v1/auth/login', login);
        }
      };
      await Promise.all([pages(), sends(), ...(flooding ? Array.from({ length: clients }, (_, i) => logins(i + 1)) : [])]);
      const delivery = await settleAndCheck(sent, [recipientSocket], timing.graceMs);
      return {
        figures: { pageMs: summarize(pageMs), sendMs: summarize(sendMs), notificationMs: summarize(delivery.latencies) },
        loginMs,
        refusedMs,
        delivery,
      };
    };
    const quiet = await window(false);
    const flood = await window(true);
    const delivery = [quiet.delivery, flood.delivery];
    return {
      clients,
      measureMs,
      scryptCost,
      quiet: quiet.figures,
      flood: {
        ...flood.figures,
        loginsPerSecond: (flood.loginMs.length * 1000) / measureMs,
        loggedIn: flood.loginMs.length,
        refused: flood.refusedMs.length,
        loginMs: summarize(flood.loginMs),
        refusedMs: summarize(flood.refusedMs),
      },
      lost: delivery.reduce((sum, d) => sum + d.lost, 0),
      duplicated: delivery.reduce((sum, d) => sum + d.duplicated, 0),
      stray: delivery.reduce((sum, d) => sum + d.stray, 0),
      errors: errors.toJSON(),
      deliverySamples: delivery.flatMap((d) => d.samples),
    };
  } finally {
    floodHttp.close();
    recipientSocket.close();
  }
}
