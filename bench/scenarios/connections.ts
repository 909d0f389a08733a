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
  /** Opened before the baseline was read, and left open. */
  warmupSockets: number;
  /** The warm-up's own rate: a cold server and harness (not judged). */
  coldConnectsPerSecond: number;
  sourceAddresses: string[];
  errors: ReturnType<ErrorCounter['toJSON']>;
  cpu?: CpuUse;
}

/**
 * Scenario 4, on a freshly started instance: idle sockets, one per user (so
 * WS_MAX_SOCKETS_PER_USER stays at its default and the server's per-user bookkeeping is counted
 * too), at most `concurrency` handshakes in flight, after `warmup` sockets opened the same way.
 * Memory is the server's VmRSS above what it held after the warm-up.
 *
 * Why a warm-up of thousands: a cold process spends its first 2,500–3,000 handshakes compiling
 * the path (opened in slices of 500 on a fresh instance, the server's CPU a handshake fell from
 * 0.8–1.2 ms to 0.2–0.3 ms, the harness's alike), as the other phases' first seconds do, which
 * they spend in their warm-up. The warm-up sockets stay open, so the memory they took is in the
 * baseline rather than freed for the measured ones to reuse; their rate is reported as the cold start.
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
  const warm = await openSockets(allUsers.slice(count, count + warmup), { url: server.wsUrl, concurrency, localAddresses: sourceAddresses });
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
  closeSockets(warm.sockets);
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
    coldConnectsPerSecond: warm.elapsedMs > 0 ? (warm.sockets.length * 1000) / warm.elapsedMs : 0,
    errors: opened.failures.toJSON(),
  };
}
