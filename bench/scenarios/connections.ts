import { closeSockets, openSockets, sleep, summarize, type ErrorCounter, type Summary } from '../clients.js';
import { scrapeMetrics, type BenchUser } from '../server.js';
import type { BenchContext } from './common.js';

export interface ConnectionsResult {
  requested: number;
  opened: number;
  concurrency: number;
  connectsPerSecond: number;
  /** Connect start → `ready` frame, ms. */
  connectMs: Summary;
  rssBeforeKb: number;
  rssAfterKb: number;
  kbPerSocket: number;
  /** parley_ws_connections once all were open (the server's own count). */
  serverConnections: number;
  socketsPerUser: string;
  sourceAddresses: string[];
  errors: ReturnType<ErrorCounter['toJSON']>;
}

/**
 * Scenario 4: idle sockets, one per user (so WS_MAX_SOCKETS_PER_USER stays at its default and
 * the server's per-user bookkeeping is counted too), at most `concurrency` handshakes in
 * flight. Memory is the server's VmRSS above what it held before the first was opened.
 */
export async function connections(ctx: BenchContext, users: BenchUser[], concurrency: number): Promise<ConnectionsResult> {
  const server = ctx.recipientWs;
  // Several source addresses: each has its own ephemeral port range (ports bound for an explicit
  // local address are not shared across destinations).
  const sourceAddresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
  await sleep(1000);
  const rssBeforeKb = server.rssKb();
  const opened = await openSockets(users, {
    url: server.wsUrl,
    concurrency,
    localAddresses: sourceAddresses,
    timeoutMs: 30_000,
    deadlineMs: 300_000,
  });
  await sleep(ctx.quick ? 1000 : 3000);
  const rssAfterKb = server.rssKb();
  const metrics = await scrapeMetrics(server);
  closeSockets(opened.sockets);
  const count = opened.sockets.length;
  return {
    requested: users.length,
    opened: count,
    concurrency,
    connectsPerSecond: opened.elapsedMs > 0 ? (count * 1000) / opened.elapsedMs : 0,
    connectMs: summarize(opened.connectMs),
    rssBeforeKb,
    rssAfterKb,
    kbPerSocket: count > 0 ? (rssAfterKb - rssBeforeKb) / count : NaN,
    serverConnections: metrics.wsConnections,
    socketsPerUser: 'one socket per user, so WS_MAX_SOCKETS_PER_USER needs no raising',
    sourceAddresses,
    errors: opened.failures.toJSON(),
  };
}
