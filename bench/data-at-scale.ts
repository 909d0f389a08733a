import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { closeSockets, HttpClient, summarize, type Summary } from './clients.js';
import { loadLargeDataset, type LargeDataset } from './datasets/large.js';
import { closedLoops, FULL_TIMING, type BenchContext, type Timing } from './scenarios/common.js';
import { pairSockets, setupPairs } from './scenarios/pairs.js';
import { throughput } from './scenarios/throughput.js';
import { createDatabase, mintToken, randomSecret, ROOT, seedUsers, SERVER_DIR, startServer, type ServerInstance } from './server.js';
import { StoreClock } from './store-clock.js';

/**
 * `npm run bench -- --dataset large [--scale F]`: issue 32's data at scale. The same calls,
 * side by side, on a small installation (the data set at 2 % of the scale asked for) and on
 * the large one (bench/datasets/large.ts, 10,000,000 messages at scale 1): start-up, the
 * conversation list of a member of 2,000 conversations, a history page deep in the busiest
 * conversation, its changes feed after a day offline, admin and member full-text search, and
 * K=64 sends. Prints a table and writes bench/results/dataset-large.json.
 */
interface Figures {
  dataset: LargeDataset;
  startupMs: { withMigrations: number; migrations: string[]; without: number };
  reads: Record<string, Summary & { bytes: number }>;
  sendK64: { messagesPerSecond: number; httpP99Ms: number; notificationP99Ms: number; lost: number; duplicated: number };
  plans: Record<string, string>;
}

const READ_TIMING: Timing = { warmupMs: 1000, measureMs: 5000, graceMs: 0, hardCapExtraMs: 20_000 };
const READERS = 2;
const log = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

export async function dataAtScale(argv: string[]): Promise<number> {
  let scale = 1;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--scale') scale = Number(argv[++i]);
    else if (argv[i].startsWith('--scale=')) scale = Number(argv[i].slice('--scale='.length));
    else if (argv[i] === '--dataset' || argv[i].startsWith('--dataset=')) {
      const value = argv[i].includes('=') ? argv[i].split('=')[1] : argv[++i];
      if (value !== 'large') throw new Error('--dataset takes: large');
    } else throw new Error(`unknown argument ${argv[i]} with --dataset (use --scale F)`);
  }
  if (!(scale > 0)) throw new Error('--scale must be a positive number');
  const resultsDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const small = await measure(scale * 0.02, resultsDir, 'small');
  const large = await measure(scale, resultsDir, 'large');
  const rows: [string, string, string][] = [
    ['data: users / conversations / memberships / messages', describe(small.dataset), describe(large.dataset)],
    ['load (COPY, indexes, ANALYZE)', `${small.dataset.loadSeconds.toFixed(0)} s`, `${large.dataset.loadSeconds.toFixed(0)} s`],
    ['start-up, running the last 2 migrations', `${small.startupMs.withMigrations.toFixed(0)} ms`, `${large.startupMs.withMigrations.toFixed(0)} ms`],
    ['start-up, nothing to migrate', `${small.startupMs.without.toFixed(0)} ms`, `${large.startupMs.without.toFixed(0)} ms`],
    ...Object.keys(large.reads).map((name): [string, string, string] => [`${name} p50 / p99`, pctl(small.reads[name]), pctl(large.reads[name])]),
    ['send K=64 msg/s', small.sendK64.messagesPerSecond.toFixed(0), `${large.sendK64.messagesPerSecond.toFixed(0)} (${((100 * large.sendK64.messagesPerSecond) / small.sendK64.messagesPerSecond).toFixed(0)} %)`],
    ['send K=64 HTTP p99 / notification p99', `${small.sendK64.httpP99Ms.toFixed(1)} / ${small.sendK64.notificationP99Ms.toFixed(1)} ms`, `${large.sendK64.httpP99Ms.toFixed(1)} / ${large.sendK64.notificationP99Ms.toFixed(1)} ms`],
    ['send K=64 lost / duplicated', `${small.sendK64.lost} / ${small.sendK64.duplicated}`, `${large.sendK64.lost} / ${large.sendK64.duplicated}`],
  ];
  const width = Math.max(...rows.map((row) => row[0].length));
  console.log(`\n${'figure'.padEnd(width)} │ ${`small (scale ${scale * 0.02})`.padEnd(28)} │ large (scale ${scale})`);
  for (const [name, a, b] of rows) console.log(`${name.padEnd(width)} │ ${a.padEnd(28)} │ ${b}`);
  const missed = Object.entries(large.reads).filter(([, summary]) => summary.p99 > 20);
  for (const [name] of missed) console.log(`\nMISSED read p99 ≤ 20 ms: ${name}. Its plan on the large data:\n${large.plans[name] ?? '(no plan captured)'}`);
  const sendRatio = large.sendK64.messagesPerSecond / small.sendK64.messagesPerSecond;
  console.log(`\nsend throughput on the large data: ${(100 * sendRatio).toFixed(0)} % of the small (target ≥ 80 %)`);
  const file = path.join(resultsDir, 'dataset-large.json');
  writeFileSync(file, JSON.stringify({ scale, startedAt: new Date().toISOString(), small, large }, null, 2));
  log(`wrote ${path.relative(ROOT, file)}`);
  return large.sendK64.lost + large.sendK64.duplicated + small.sendK64.lost + small.sendK64.duplicated > 0 ? 1 : 0;
}

function describe(d: LargeDataset): string {
  return [d.users, d.conversations, d.memberships, d.messages].map((n) => n.toLocaleString('en-US')).join(' / ');
}

function pctl(summary: Summary | undefined): string {
  return summary ? `${summary.p50.toFixed(1)} / ${summary.p99.toFixed(1)} ms` : '–';
}

async function measure(scale: number, resultsDir: string, name: string): Promise<Figures> {
  const db = await createDatabase(name);
  const servers: ServerInstance[] = [];
  const jwtSecret = randomSecret();
  const settings = { databaseUrl: db.url, jwtSecret, poolSize: 10, env: { RATE_LIMIT_SEND_PER_USER: 'off', RATE_LIMIT_SEND_PER_ADDRESS: 'off' } };
  try {
    log(`${name}: created database ${db.name}; migrating it`);
    (await startServer(`${name}-migrate`, settings, resultsDir).then((server) => server.stop()));
    log(`${name}: loading the data set at scale ${scale} with COPY`);
    const dataset = await loadLargeDataset(db.url, scale, log);
    log(`${name}: loaded in ${dataset.loadSeconds.toFixed(0)} s`);

    // Start-up on the full database, with the last two migrations (the outbox and the list's
    // activity, whose back-fill rewrites every member row) to run, then with none.
    const reverted = [1, 2].map(() =>
      execFileSync(process.execPath, ['dist/src/database/migrate-cli.js', 'revert'], { cwd: SERVER_DIR, env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8' }).trim(),
    );
    let t0 = performance.now();
    const first = await startServer(`${name}-startup`, { ...settings, readyWithinMs: 30 * 60_000 }, resultsDir);
    const withMigrations = performance.now() - t0;
    await first.stop();
    t0 = performance.now();
    const server = await startServer(name, settings, resultsDir);
    const without = performance.now() - t0;
    servers.push(server);
    log(`${name}: start-up ${withMigrations.toFixed(0)} ms with 2 migrations, ${without.toFixed(0)} ms without`);

    const sessions = await sessionsFor(db.url, [dataset.heavyUserId, dataset.adminUserId]);
    const [heavy, admin] = sessions.map((s) => mintToken(jwtSecret, s.userId, s.tokenVersion, s.sessionId, 3600));
    const http = new HttpClient('127.0.0.1', server.port, 64);
    // A cursor 50 pages (1,000 conversations) down heavy's list.
    let deepCursor = '';
    for (let page = 0; page < 50; page++) {
      const answer = await http.request('GET', `/api/v1/conversations?limit=20${deepCursor ? `&cursor=${encodeURIComponent(deepCursor)}` : ''}`, heavy);
      if (answer.status !== 200) throw new Error(`conversation list answered ${answer.status}`);
      deepCursor = answer.body.nextCursor;
    }
    const middle = Math.floor(dataset.busyConversationMessages / 2);
    const rare = 'w' + ((15000 * 2654435761) >>> 0).toString(16).padStart(8, '0').slice(0, 6);
    const reads: [string, string, string][] = [
      ['conversation list, first page (2,000 conversations)', `/api/v1/conversations?limit=20`, heavy],
      ['conversation list, page 51 by cursor', `/api/v1/conversations?limit=20&cursor=${encodeURIComponent(deepCursor)}`, heavy],
      ['history page deep in the busiest conversation (its middle)', `/api/v1/conversations/${dataset.busyConversationId}/messages?before=${middle}&limit=50`, heavy],
      ['changes feed after a day offline (first page)', `/api/v1/conversations/${dataset.busyConversationId}/changes?since=${dataset.busyChangeSeqDayAgo}&limit=100`, heavy],
      ['admin search, a word in no message', `/api/v1/admin/messages?q=zebra&limit=20`, admin],
      [`admin search, a rare word (${rare})`, `/api/v1/admin/messages?q=${rare}&limit=20`, admin],
      ['admin search, a common word (the)', `/api/v1/admin/messages?q=the&limit=20`, admin],
      ['member search, a word in no message', `/api/v1/search/messages?q=zebra&limit=20`, heavy],
      [`member search, a rare word (${rare})`, `/api/v1/search/messages?q=${rare}&limit=20`, heavy],
    ];
    const figures: Record<string, Summary & { bytes: number }> = {};
    for (const [label, url, token] of reads) {
      const times: number[] = [];
      let bytes = 0;
      await closedLoops(READERS, READ_TIMING, async (_worker, window) => {
        const start = performance.now();
        const answer = await http.request('GET', url, token);
        const end = performance.now();
        if (answer.status !== 200) throw new Error(`${label}: GET ${url} answered ${answer.status} ${JSON.stringify(answer.body)}`);
        bytes = JSON.stringify(answer.body).length;
        if (start >= window.measureStart && end <= window.end) times.push(end - start);
      });
      figures[label] = { ...summarize(times), bytes };
      log(`${name}: ${label}: p50 ${figures[label].p50.toFixed(1)} ms, p99 ${figures[label].p99.toFixed(1)} ms`);
    }

    const plans = await explainReads(db.url, dataset);

    // K=64 senders, each in a direct conversation of its own, as the throughput phase.
    const users = await seedUsers(db.url, 128, jwtSecret, 3600);
    const storeClock = await StoreClock.open(db.url);
    const loadHttp = new HttpClient('127.0.0.1', server.port, 256);
    const ctx: BenchContext = { quick: false, api: server, senderWs: server, recipientWs: server, http: loadHttp, storeClock, timing: FULL_TIMING, log };
    const pairs = await setupPairs(ctx, users, 64);
    const sent = await throughput(ctx, pairs, 64);
    closeSockets(pairSockets(pairs));
    loadHttp.close();
    http.close();
    await storeClock.close();
    log(`${name}: K=64 ${sent.messagesPerSecond.toFixed(0)} msg/s, lost ${sent.lost}, duplicated ${sent.duplicated}`);
    return {
      dataset,
      startupMs: { withMigrations, migrations: reverted, without },
      reads: figures,
      sendK64: {
        messagesPerSecond: sent.messagesPerSecond,
        httpP99Ms: sent.httpMs.p99,
        notificationP99Ms: sent.storedToReceive.ms.p99,
        lost: sent.lost,
        duplicated: sent.duplicated,
      },
      plans,
    };
  } finally {
    for (const server of servers) await server.stop();
    await db.drop();
  }
}

/** A session for each user, as a login would make. */
async function sessionsFor(url: string, userIds: string[]): Promise<{ userId: string; tokenVersion: number; sessionId: string }[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `INSERT INTO sessions (user_id, token_version, user_agent, expires_at)
       SELECT u.id, u.token_version, 'bench', now() + interval '1 hour' FROM users u WHERE u.id = ANY ($1::bigint[])
       RETURNING user_id::text AS "userId", token_version AS "tokenVersion", id::text AS "sessionId"`,
      [userIds],
    );
    return userIds.map((id) => rows.find((row) => row.userId === id)!);
  } finally {
    await client.end();
  }
}

/** EXPLAIN (ANALYZE, BUFFERS) of the list's first page, as ConversationsRepository runs it. */
async function explainReads(url: string, dataset: LargeDataset): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const plan = await client.query(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
       SELECT c.id FROM conversation_members me CROSS JOIN LATERAL (SELECT * FROM conversations WHERE id = me.conversation_id OFFSET 0) c
        WHERE me.user_id = $1
          AND me.activity_at >= (SELECT coalesce((SELECT older.activity_at FROM conversation_members older
                                                   WHERE older.user_id = $1 AND older.activity_at < 'infinity'::timestamptz - interval '1 second'
                                                   ORDER BY older.activity_at DESC OFFSET 20 LIMIT 1), '-infinity') - interval '1 second')
        ORDER BY c.updated_at DESC, c.id DESC LIMIT 21`,
      [dataset.heavyUserId],
    );
    return { 'conversation list, first page (2,000 conversations)': plan.rows.map((row) => row['QUERY PLAN']).join('\n') };
  } finally {
    await client.end();
  }
}
