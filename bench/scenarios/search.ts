import { performance } from 'node:perf_hooks';
import { ErrorCounter, summarize, type Summary } from '../clients.js';
import type { CpuUse } from '../cpu.js';
import type { BenchUser } from '../server.js';
import { closedLoops, rate, type BenchContext } from './common.js';

export interface SearchResult {
  searchers: number;
  /** Users searched as, in turn: the pairs' members (one direct conversation each, thousands of messages) and group members. */
  users: number;
  searches: number;
  searchesPerSecond: number;
  /** GET /api/v1/search/messages start → answer, ms. */
  searchMs: Summary;
  /** The same, by query. */
  byQuery: Record<string, Summary>;
  /** Searches that found at least one message. */
  withResults: number;
  errors: ReturnType<ErrorCounter['toJSON']>;
  capped: boolean;
  cpu?: CpuUse;
}

/**
 * The words searched for, from the bench's own messages ("bench K=64 from 12", "bench paced
 * 123", "bench flow from 5", "bench fan-out 7"): in every message, in some phases' only, a
 * number, a phrase, an exclusion, and a word in none.
 */
export const SEARCH_QUERIES = ['bench', 'paced', 'flow', '42', '"from 3"', 'bench -paced', 'fan-out', 'zebra'];

/**
 * Scenario: `searchers` closed loops, each searching as one user after another (a page of 20,
 * newest first) for one query after another, over the messages the earlier phases left: tens
 * of thousands per direct conversation of the pairs, a few hundred in the fan-out group.
 */
export async function search(ctx: BenchContext, users: BenchUser[], searchers: number): Promise<SearchResult> {
  const errors = new ErrorCounter();
  const all: number[] = [];
  const byQuery = new Map<string, number[]>(SEARCH_QUERIES.map((q) => [q, []]));
  let searches = 0;
  let withResults = 0;
  let turn = 0;
  const window = await closedLoops(searchers, ctx.timing, async (_worker, w) => {
    const i = turn++;
    const user = users[i % users.length];
    const q = SEARCH_QUERIES[i % SEARCH_QUERIES.length];
    const t0 = performance.now();
    const result = await ctx.http.request('GET', `/api/v1/search/messages?q=${encodeURIComponent(q)}&limit=20`, user.token);
    const t1 = performance.now();
    if (!errors.check('GET /api/v1/search/messages', result)) return;
    if (t0 < w.measureStart || t1 > w.end) return;
    searches++;
    if (Array.isArray(result.body?.items) && result.body.items.length > 0) withResults++;
    all.push(t1 - t0);
    byQuery.get(q)!.push(t1 - t0);
  });
  if (window.capped) errors.add('phase hit its hard cap');
  return {
    searchers,
    users: users.length,
    searches,
    searchesPerSecond: rate(searches, ctx.timing.measureMs),
    searchMs: summarize(all),
    byQuery: Object.fromEntries([...byQuery].map(([q, values]) => [q, summarize(values)])),
    withResults,
    errors: errors.toJSON(),
    capped: window.capped,
  };
}
