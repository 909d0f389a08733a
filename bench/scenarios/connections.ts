import { closeSockets, openSockets, sleep, summarize, type ErrorCounter, type Summary } from '../clients.js';
import type { CpuUse } from '../cpu.js';
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
  /** Opened and closed before the baseline was read. */
  warmupSockets: number;
  sourceAddresses: string[];
  errors: ReturnType<ErrorCounter['toJSON']>;
  cpu?: CpuUse;
}

/**
 * Scenario 4, on a freshly started instance: idle sockets, one per user (so
 * WS_MAX_SOCKETS_PER_USER stays at its default and the server's per-user bookkeeping is counted
 * too), at most `concurrency` handshakes in flight. Memory is the server's VmRSS above what it held before the first was opened (after a
 * warm-up of a few sockets opened and closed).
 */
export async function connections(
  ctx: BenchContext,
  allUsers: BenchUser[],
  count: number,
  warmup: number,
  concurrency: number,
): Promise<ConnectionsResult> {
  const server = ctx.recipientWs;
  // Several source addresses: each has its own ephemeral port range (ports bound for an explicit
  // local address are not shared across destinations).
  const sourceAddresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
  const users = allUsers.slice(0, count);
  // A few handshakes first, so that compiling the handshake path is not counted as sockets' memory.
  const warm = await openSockets(allUsers.slice(count, count + warmup), { url: server.wsUrl, concurrency, localAddresses: sourceAddresses });
  closeSockets(warm.sockets);
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
  const open = opened.sockets.length;
  return {
    requested: users.length,
    opened: open,
    concurrency,
    connectsPerSecond: opened.elapsedMs > 0 ? (open * 1000) / opened.elapsedMs : 0,
    connectMs: summarize(opened.connectMs),
    rssBeforeKb,
    rssAfterKb,
    kbPerSocket: open > 0 ? (rssAfterKb - rssBeforeKb) / open : NaN,
    serverConnections: metrics.wsConnections,
    socketsPerUser: 'one socket per user, so WS_MAX_SOCKETS_PER_USER needs no raising',
    sourceAddresses,
    warmupSockets: warm.sockets.length,
    errors: opened.failures.toJSON(),
  };
}
