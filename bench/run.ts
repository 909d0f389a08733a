/**
 * Parley's benchmark: `npm run bench` (full, ~2 minutes) or `npm run bench -- --quick` (<1 minute).
 * Options: `--instances 2 --redis` runs two instances sharing PostgreSQL and Redis, with requests
 * and senders' sockets on A and every other socket on B.
 *
 * It creates a throwaway database, starts the built server (dist/) as a child process, seeds
 * users with SQL and mints their tokens, runs the scenarios one after another, prints a table,
 * writes bench/results/<name>.json and .svg, and drops the database, also on failure or Ctrl+C.
 * Exit status 1 when a notification was lost, duplicated or misdelivered, a request failed, or
 * a phase failed; missed targets are reported, not failed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { HttpClient, closeSockets, sleep } from './clients.js';
import { CommitProbe, type CommitProbeResult } from './commit-probe.js';
import { measureCpu, perMessage, type CpuUse } from './cpu.js';
import { rawBaseline, serverSendBatching } from './raw-baseline.js';
import { describeTrace, readTrace, summarizeTrace } from './send-trace.js';
import { buildRows, ratioToBaselines, renderTable, writeResults, type BenchResults } from './report.js';
import { FULL_TIMING, QUICK_TIMING, type BenchContext } from './scenarios/common.js';
import { connections } from './scenarios/connections.js';
import { deliveries } from './scenarios/deliveries.js';
import { fanout } from './scenarios/fanout.js';
import { clientLibrary } from './scenarios/client-library.js';
import { fullFlow } from './scenarios/full-flow.js';
import { liveSignals } from './scenarios/live-signals.js';
import { loginFlood } from './scenarios/login-flood.js';
import { pairSockets, setupPairs, type Pair } from './scenarios/pairs.js';
import { reactions } from './scenarios/reactions.js';
import { search } from './scenarios/search.js';
import { paced, throughput } from './scenarios/throughput.js';
import { uploads } from './scenarios/uploads.js';
import {
  ROOT,
  SERVER_DIR,
  createDatabase,
  postgresVersion,
  randomSecret,
  scanLog,
  seedUsers,
  startServer,
  type ServerInstance,
} from './server.js';
import { dataAtScale } from './data-at-scale.js';
import { StoreClock } from './store-clock.js';

/** The phases, by the names `--only` takes, in the order a run makes them. */
const PHASES = [
  'throughput',
  'paced',
  'full-flow',
  'client-library',
  'uploads',
  'fan-out',
  'reactions',
  'search',
  'deliveries',
  'login-flood',
  'connections',
  'live-signals',
] as const;
type PhaseName = (typeof PHASES)[number];

interface Options {
  quick: boolean;
  instances: number;
  redis: boolean;
  /** The instances share a Redis Cluster (REDIS_CLUSTER_NODES, sharded pub/sub) instead of one Redis. */
  redisCluster?: string;
  /** The durable jobs (webhooks, push) run by a process of their own rather than by the servers. */
  jobsProcess?: boolean;
  /** Only these phases (`--only deliveries,search`); all when not given. */
  only?: Set<PhaseName>;
  /** Each throughput level's sends traced (SEND_TRACE_FILE) and summarised as a timeline. */
  trace?: boolean;
  /** Each server process CPU-profiled (`--cpu-prof`) into bench/results/profiles/. */
  profile?: boolean;
}

function parseOnly(list: string): Set<PhaseName> {
  const names = list.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(PHASES as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) throw new Error(`--only takes phases among ${PHASES.join(', ')} (not ${unknown.join(', ')})`);
  return new Set(names as PhaseName[]);
}

function parseArgs(argv: string[]): Options {
  const options: Options = { quick: false, instances: 1, redis: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--redis') options.redis = true;
    else if (arg === '--redis-cluster') {
      options.redis = true;
      // The tests' cluster (test/support/redis-cluster.sh) unless REDIS_CLUSTER_NODES names another.
      options.redisCluster = process.env.REDIS_CLUSTER_NODES ?? '127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103';
    }
    else if (arg === '--instances') options.instances = Number(argv[++i]);
    else if (arg.startsWith('--instances=')) options.instances = Number(arg.slice('--instances='.length));
    else if (arg === '--jobs-process') options.jobsProcess = true;
    else if (arg === '--trace') options.trace = true;
    else if (arg === '--profile') options.profile = true;
    else if (arg === '--only') options.only = parseOnly(argv[++i] ?? '');
    else if (arg.startsWith('--only=')) options.only = parseOnly(arg.slice('--only='.length));
    else throw new Error(`unknown argument ${arg} (use --quick, --instances N, --redis, --redis-cluster, --jobs-process, --trace, --profile, --only PHASE[,PHASE])`);
  }
  if (options.instances !== 1 && options.instances !== 2) throw new Error('--instances must be 1 or 2');
  if (options.instances === 2 && !options.redis) throw new Error('--instances 2 needs --redis (the instances share notifications through Redis)');
  return options;
}

/** The sizes of each mode. Quick mode keeps the whole run (after the build) well under a minute. */
function plan(quick: boolean) {
  const timing = quick ? QUICK_TIMING : FULL_TIMING;
  return {
    timing,
    senderCounts: [1, 16, 64],
    pacedRate: 1000,
    pacedSenders: 16,
    fullFlowSenders: 64,
    rawLoops: 64,
    groupMembers: quick ? 200 : 1000,
    // Enough repeats that the p99 is a percentile and not simply the slowest one (it was, at 30).
    fanoutRepeats: quick ? 30 : 200,
    idleSockets: quick ? 2000 : 15_000,
    /** Sockets opened on the fresh instance before the measured ones (see scenarios/connections.ts). */
    connectWarmup: quick ? 1000 : 3000,
    connectConcurrency: 200,
    /** @parley/client: senders (each in a direct conversation with the client's user), and messages sent while it is away. */
    clientLibrarySenders: 16,
    clientLibraryMissed: quick ? 2000 : 10_000,
    /** Clients logging in at once in the login flood (issue 34's 40 from 40 addresses). */
    loginFloodClients: 40,
    /** Connected users of the live-signals phase (issue 30's 15,000). */
    liveSignalUsers: quick ? 2000 : 15_000,
    /** The sender count whose notification p99 the live-signals load must not raise past 1.5×. */
    liveSignalSenders: 16,
    /** Issue 29's reactions phase: users toggling reactions on hot messages of one group. */
    reactionTogglers: 64,
    reactionHotMessages: 16,
    /** Issue 28's uploads phase: clients uploading 1 MiB photos beside the paced text senders. */
    uploaders: 16,
    /** Issue 31's deliveries phase: bots with webhooks, and the senders into their groups. */
    deliveryBots: quick ? 200 : 1000,
    deliverySenders: 16,
    /** Closed loops searching at once in the search phase. */
    searchers: 4,
  };
}

/** Server settings the caller may override from its environment (e.g. DATABASE_POOL_SIZE=20 npm run bench). */
const PASS_THROUGH = /^(DATABASE_POOL_SIZE|LOG_LEVEL|LOG_FORMAT|WS_[A-Z_]+|ATTACHMENT_[A-Z_]+|ACCESS_TOKEN_TTL_SECONDS|PASSWORD_HASH_THREADS|PASSWORD_HASH_QUEUE|JOB_QUEUE_TASKS|SEND_BATCHES_IN_FLIGHT)$/;
/** The login flood's server hashes at the default cost (SCRYPT_COST), not the other phases' cheap one. */
const LOGIN_FLOOD_SCRYPT_COST = 2 ** 17;
/** The server's default DATABASE_POOL_SIZE (src/config/app-config.ts); passed explicitly, so both sides agree. */
const DEFAULT_POOL_SIZE = 10;

/** Git facts about a checkout; null when `dir` is not the top of one (e.g. an exported tree). */
function git(dir: string, args: string[]): string | null {
  const run = (argv: string[]) => execFileSync('git', argv, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    if (path.resolve(run(['rev-parse', '--show-toplevel'])) !== dir) return null;
    return run(args);
  } catch {
    return null;
  }
}

const log = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function main(): Promise<number> {
  // Issue 32's data at scale is a run of its own: two databases loaded, the same calls on each.
  if (process.argv.slice(2).some((arg) => arg === '--dataset' || arg.startsWith('--dataset='))) return dataAtScale(process.argv.slice(2));
  const options = parseArgs(process.argv.slice(2));
  const p = plan(options.quick);
  const resultsDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  // A run of some phases only is no full set of figures: it writes partial.* (git-ignored).
  const name = `${options.only ? 'partial' : options.quick ? 'quick' : 'latest'}${options.instances === 2 ? '-2x' : ''}${options.redisCluster ? '-redis-cluster' : options.redis ? '-redis' : ''}`;
  const wants = (phase: PhaseName) => !options.only || options.only.has(phase);

  const cleanups: Array<() => Promise<void>> = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const step of cleanups.reverse()) await step().catch((error) => log(`cleanup: ${(error as Error).message}`));
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the server(s) and dropping the database`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  // A bug in the harness must not leave a server running or a database behind either.
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    process.once(event, (error) => {
      log(`${event} in the harness: ${(error as Error)?.stack ?? error}`);
      void cleanup().finally(() => process.exit(1));
    });
  }

  const passed = Object.fromEntries(Object.entries(process.env).filter(([key]) => PASS_THROUGH.test(key))) as Record<string, string>;
  const poolSize = Number(passed.DATABASE_POOL_SIZE ?? DEFAULT_POOL_SIZE);
  const results: BenchResults = {
    mode: options.quick ? 'quick' : 'full',
    startedAt: new Date().toISOString(),
    machine: {
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      memoryMb: Math.round(os.totalmem() / 2 ** 20),
      kernel: `${os.type()} ${os.release()}`,
      node: process.version,
      postgres: 'unknown',
      serverDir: SERVER_DIR,
      gitCommit: git(SERVER_DIR, ['rev-parse', 'HEAD']),
      gitBranch: git(SERVER_DIR, ['rev-parse', '--abbrev-ref', 'HEAD']),
      // Uncommitted changes under src/ mean the figures are for a build of something unnamed.
      srcUncommittedChanges: ((status) => (status === null ? null : status !== ''))(git(SERVER_DIR, ['status', '--porcelain', '--', 'src', 'migrations'])),
      harnessCommit: git(ROOT, ['rev-parse', 'HEAD']),
      loadAverageAtStart: os.loadavg().map((value) => Number(value.toFixed(2))),
      openFileLimit: Number(execFileSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()),
    },
    config: {
      instances: options.instances,
      redis: options.redis,
      layout:
        options.instances === 2
          ? 'requests and senders’ sockets on instance A; recipients’, group members’ and idle sockets on instance B'
          : 'one instance',
      databasePoolSize: poolSize,
      serverEnvOverrides: passed,
      timing: p.timing,
      plan: { ...p, timing: undefined },
      rateLimits: 'RATE_LIMIT_* set to 1000000/1: enabled (their bookkeeping runs) but never reached',
      notificationLatency:
        'two figures per phase. "stored→receive" is frame arrival at the harness socket minus the message’s created_at in PostgreSQL ' +
        '(the start of the transaction that stored it, so an upper bound on commit→receive), the two clocks lined up through clock_timestamp(); ' +
        'the paced targets are judged on it. "POST start→receive" is frame arrival minus the POST’s start (paced run: its scheduled start), ' +
        'which adds the HTTP request and the harness’s own timer and event-loop delays on a shared 2-core machine',
    },
    throughput: [],
    rawBaselines: [],
    serverLogs: {},
    failures: [],
    notes: [],
  };
  const fail = (phase: string, error: unknown) => {
    const message = `${phase}: ${(error as Error).message ?? error}`;
    results.failures.push(message);
    log(`FAILED ${message}`);
  };

  const servers: ServerInstance[] = [];
  /** Runs a phase and adds where the CPU went meanwhile (all running servers together). */
  let messagesStored: () => Promise<number> = async () => 0;
  const withCpu = async <T extends { cpu?: CpuUse }>(phase: () => Promise<T>): Promise<T> => {
    const storedBefore = await messagesStored();
    const stop = measureCpu(servers.filter((server) => !server.unexpectedExit()).map((server) => server.pid));
    const result = await phase();
    const cpu = stop();
    result.cpu = perMessage(cpu, (await messagesStored()) - storedBefore);
    return result;
  };
  /** Runs a latency phase with the database's own commits probed beside it. */
  const withCommitProbe = async <T extends { databaseCommits?: CommitProbeResult }>(url: string, phase: () => Promise<T>): Promise<T> => {
    const probe = await CommitProbe.start(url);
    try {
      const result = await phase();
      result.databaseCommits = await probe.stop();
      return result;
    } finally {
      // Also when the phase failed, so that its connection does not keep the database from being dropped.
      await probe.stop();
    }
  };
  try {
    const limit = results.machine.openFileLimit as number;
    if (limit < p.idleSockets + p.connectWarmup + 2000) {
      const note = `the open-file limit is ${limit}; ${p.idleSockets + p.connectWarmup} sockets need more (run through npm run bench, which raises it, or ulimit -n)`;
      results.notes.push(note);
      log(`WARNING ${note}`);
    }
    log(`mode ${results.mode}, ${options.instances} instance(s)${options.redisCluster ? ' with a Redis Cluster' : options.redis ? ' with Redis' : ''}, pool size ${poolSize}, server ${path.join(SERVER_DIR, 'dist/src/main.js')}`);
    const db = await createDatabase();
    cleanups.push(() => db.drop().then(() => log(`dropped database ${db.name}`)));
    log(`created database ${db.name}`);
    results.machine.postgres = await postgresVersion(db.url);
    const storeClock = await StoreClock.open(db.url);
    cleanups.push(() => storeClock.close());
    // Messages stored by every means (the raw baseline too): the ids the sequence has handed out.
    const counter = new pg.Client({ connectionString: db.url });
    await counter.connect();
    cleanups.push(() => counter.end());
    messagesStored = async () => Number((await counter.query('SELECT last_value FROM messages_id_seq')).rows[0].last_value);

    const jwtSecret = randomSecret();
    // Attachments on the checkout's own disk (not /tmp, which may be memory), removed afterwards.
    const storageDir = path.join(ROOT, 'data', `bench-storage-${process.pid}`);
    mkdirSync(storageDir, { recursive: true });
    cleanups.push(async () => rmSync(storageDir, { recursive: true, force: true }));
    const redisUrl = options.redis && !options.redisCluster ? (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') : undefined;
    const cluster: Record<string, string> = options.redisCluster ? { REDIS_CLUSTER_NODES: options.redisCluster } : {};
    // The trace of the instance the senders post to, rewritten for each throughput level.
    const traceFile = path.join(resultsDir, 'send-trace.tmp');
    if (options.trace) cleanups.push(async () => rmSync(traceFile, { force: true }));
    // One .cpuprofile per server process, written when it stops (bench/profile.ts reads them).
    const profileDir = path.join(resultsDir, 'profiles');
    if (options.profile) mkdirSync(profileDir, { recursive: true });
    const start = async (instance: string, env: Record<string, string> = {}) => {
      if (options.trace && instance === 'A') env = { ...env, SEND_TRACE_FILE: traceFile };
      const server = await startServer(
        instance,
        {
          databaseUrl: db.url,
          jwtSecret,
          poolSize,
          redisUrl,
          nodeArgs: options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=server-${instance}-${process.pid}.cpuprofile`] : [],
          // Its own channel prefix, so a shared Redis (tests, other runs) neither sees nor sends its traffic.
          // Webhooks go to the deliveries phase's receiver on 127.0.0.1.
          env: { ...passed, STORAGE_DIR: storageDir, WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true', ...(options.redis ? { REDIS_CHANNEL_PREFIX: `parley_bench_${process.pid}` } : {}), ...cluster, ...env },
        },
        resultsDir,
      );
      servers.push(server);
      cleanups.push(() => server.stop());
      log(`server ${instance} ready on port ${server.port} (pid ${server.pid}, log ${path.relative(ROOT, server.logFile)})`);
      return server;
    };
    const jobsElsewhere: Record<string, string> = options.jobsProcess ? { JOB_QUEUE_TASKS: 'none' } : {};
    for (const instance of options.instances === 2 ? ['A', 'B'] : ['A']) await start(instance, jobsElsewhere);
    // The durable jobs in a process of their own, which serves no client (see docs/deployment.md).
    if (options.jobsProcess) await start('J', { JOB_QUEUE_TASKS: 'all' });
    const [a] = servers;
    const b = options.instances === 2 ? servers[1] : a;

    const pairCount = Math.max(...p.senderCounts, p.pacedSenders, p.fullFlowSenders, p.rawLoops);
    // The reactions group: its owner (who watches), a probe and the togglers.
    const reactionUsers = p.reactionTogglers + 2;
    const userCount = 2 * pairCount + p.groupMembers + reactionUsers + p.idleSockets + p.connectWarmup + p.uploaders + p.liveSignalUsers;
    const users = await seedUsers(db.url, userCount, jwtSecret, 4 * 3600);
    log(`seeded ${users.length} users with SQL and minted their tokens`);

    const http = new HttpClient('127.0.0.1', a.port, Math.max(256, pairCount * 2));
    cleanups.push(async () => http.close());
    for (const server of servers) {
      const me = await server.http.request('GET', '/api/v1/users/me', users[0].token);
      if (me.status !== 200 || String(me.body?.id) !== users[0].id) {
        throw new Error(
          `a minted token does not work on server ${server.name}: GET /api/v1/users/me answered ${me.status} ${JSON.stringify(me.body)}. ` +
            'Check mintToken in bench/server.ts against src/auth (claims, algorithm, secret).',
        );
      }
    }
    log('a minted token works (GET /api/v1/users/me → 200)');

    const ctx: BenchContext = { quick: options.quick, api: a, senderWs: a, recipientWs: b, http, storeClock, timing: p.timing, log };
    const pairUsers = users.slice(0, 2 * pairCount);
    const groupUsers = users.slice(2 * pairCount, 2 * pairCount + p.groupMembers);
    const reactionGroupUsers = users.slice(2 * pairCount + p.groupMembers, 2 * pairCount + p.groupMembers + reactionUsers);
    const idleStart = 2 * pairCount + p.groupMembers + reactionUsers;
    const idleUsers = users.slice(idleStart, idleStart + p.idleSockets + p.connectWarmup);
    const uploaderStart = idleStart + p.idleSockets + p.connectWarmup;
    const uploaderUsers = users.slice(uploaderStart, uploaderStart + p.uploaders);
    // Users of their own, in conversations: the connections phase's users are in none, as before.
    const signalUsers = users.slice(users.length - p.liveSignalUsers);

    let pairs: Pair[] | undefined;
    try {
      pairs = await setupPairs(ctx, pairUsers, pairCount);
      cleanups.push(async () => closeSockets(pairSockets(pairs!)));
      log(`${pairs.length} direct conversations created through the API, ${pairs.length * 2} sockets open`);
    } catch (error) {
      fail('setting up the sender/recipient pairs', error);
    }

    if (pairs) {
      const rawInputs = pairs.slice(0, p.rawLoops).map((pair) => ({
        senderId: pair.sender.id,
        tokenVersion: pair.sender.tokenVersion,
        sessionId: pair.sender.sessionId,
        conversationId: pair.conversationId,
      }));
      const batching = await serverSendBatching(SERVER_DIR, passed);
      const runRawBaseline = async (when: 'before' | 'after') => {
        const pool = new pg.Pool({ connectionString: db.url, max: poolSize });
        pool.on('error', () => undefined);
        try {
          const raw = await withCpu(() => rawBaseline(pool, rawInputs, p.timing, when, batching));
          results.rawBaselines.push(raw);
          log(`raw pg baseline ${when} K=64: ${Math.round(raw.messagesPerSecond)} msg/s`);
        } catch (error) {
          fail(`raw baseline ${when} K=64`, error);
        } finally {
          await pool.end();
        }
      };
      for (const senders of wants('throughput') ? p.senderCounts : []) {
        // The raw baseline right before and right after Parley's K=64, so that the ratio is
        // taken against the machine as it was around that phase, and its drift shows.
        if (senders === 64) await runRawBaseline('before');
        try {
          if (options.trace) writeFileSync(traceFile, '');
          const result = await withCpu(() => throughput(ctx, pairs, senders));
          if (options.trace) {
            result.trace = summarizeTrace(readTrace(traceFile));
            for (const line of result.trace ? describeTrace(result.trace) : ['no send traced']) log(`trace K=${senders}: ${line}`);
          }
          results.throughput.push(result);
          log(
            `throughput K=${senders}: ${Math.round(result.messagesPerSecond)} msg/s, notification p99 ${result.storedToReceive.ms.p99.toFixed(1)} ms stored→receive, ` +
              `lost ${result.lost}, duplicated ${result.duplicated}, errors ${result.errors.total}`,
          );
        } catch (error) {
          fail(`throughput K=${senders}`, error);
        }
        if (senders === 64) await runRawBaseline('after');
      }
      const k64 = results.throughput.find((t) => t.senders === 64);
      const ratio = k64 && ratioToBaselines(k64.messagesPerSecond, results.rawBaselines.map((raw) => raw.messagesPerSecond));
      if (ratio) {
        results.rawBaselineMean = ratio.baseline;
        results.ratioToRawBaseline = ratio.ratio;
        results.ratioToEachRawBaseline = ratio.each;
      }

      if (wants('paced')) try {
        results.paced = await withCpu(() => withCommitProbe(db.url, () => paced(ctx, pairs, p.pacedSenders, p.pacedRate)));
        log(
          `paced ${p.pacedRate}/s: achieved ${Math.round(results.paced.messagesPerSecond)} msg/s, notification stored→receive p50 ${results.paced.storedToReceive.ms.p50.toFixed(2)} ` +
            `p99 ${results.paced.storedToReceive.ms.p99.toFixed(2)} ms (POST start→receive p50 ${results.paced.notificationMs.p50.toFixed(2)} ms)`,
        );
      } catch (error) {
        fail('paced run', error);
      }

      if (wants('full-flow')) try {
        results.fullFlow = await withCpu(() => fullFlow(ctx, pairs, p.fullFlowSenders));
        log(`full flow: ${Math.round(results.fullFlow.messagesPerSecond)} msg/s, p99 ${results.fullFlow.flowMs.p99.toFixed(1)} ms`);
      } catch (error) {
        fail('full flow', error);
      }

      if (wants('client-library')) try {
        const reader = pairs[0].recipient;
        const senders = pairs.slice(1, 1 + p.clientLibrarySenders).map((pair) => pair.sender);
        results.clientLibrary = await withCpu(() => clientLibrary(ctx, reader, senders, p.clientLibraryMissed));
        // Its messages also reached the bench's own sockets of the reader and the senders, which no
        // phase expects: forgotten once the last has arrived, or the next phase takes them for strays.
        await sleep(500);
        for (const socket of pairSockets(pairs)) socket.reset();
        const c = results.clientLibrary;
        log(
          `client library: caught up ${c.missed} in ${Math.round(c.catchUpMs)} ms, live p99 ${c.liveMs.p99.toFixed(1)} ms, ` +
            `lost ${c.lost}, duplicated ${c.duplicated}, out of order ${c.stray}`,
        );
      } catch (error) {
        fail('client library', error);
      }

      if (wants('uploads')) try {
        results.uploads = await withCpu(() =>
          withCommitProbe(db.url, () => uploads(ctx, pairs, uploaderUsers, p.pacedSenders, p.pacedRate, storageDir)),
        );
        const u = results.uploads;
        log(
          `uploads: ${u.uploadMegabytesPerSecond.toFixed(1)} MB/s (dd ${u.disk.megabytesPerSecond.toFixed(1)} MB/s); senders' stored→receive p99 ` +
            `${u.sendersAlone.storedToReceive.ms.p99.toFixed(2)} → ${u.sendersWithUploads.storedToReceive.ms.p99.toFixed(2)} ms`,
        );
      } catch (error) {
        fail('uploads', error);
      }
    }

    if (wants('fan-out')) try {
      results.fanout = await withCpu(() => withCommitProbe(db.url, () => fanout(ctx, groupUsers, p.fanoutRepeats)));
      log(`fan-out to ${p.groupMembers}: p50 ${results.fanout.lastMemberMs.p50.toFixed(1)} ms, p99 ${results.fanout.lastMemberMs.p99.toFixed(1)} ms`);
    } catch (error) {
      fail('fan-out', error);
    }

    if (wants('reactions')) try {
      results.reactions = await withCpu(() => reactions(ctx, reactionGroupUsers, p.reactionHotMessages));
      const r = results.reactions;
      log(
        `reactions: ${Math.round(r.togglesPerSecond)} toggles/s on ${r.hotMessages} hot messages, message.updated p99 ${r.notificationMs.p99.toFixed(1)} ms, ` +
          `${r.togglesPerFrame.toFixed(1)} toggles per frame, ${r.countMismatches} count mismatches`,
      );
    } catch (error) {
      fail('reactions', error);
    }

    if (wants('search')) try {
      // Over what the phases before left: the pairs' direct conversations and the fan-out group.
      const searchers = [...pairUsers, ...groupUsers];
      results.search = await withCpu(() => search(ctx, searchers, p.searchers));
      const s = results.search;
      log(`search: ${Math.round(s.searchesPerSecond)} searches/s, p50 ${s.searchMs.p50.toFixed(1)} ms, p99 ${s.searchMs.p99.toFixed(1)} ms`);
    } catch (error) {
      fail('search', error);
    }

    if (pairs && wants('deliveries')) {
      try {
        results.deliveries = await withCpu(() => deliveries(ctx, db.url, pairs!, p.deliveryBots, p.deliverySenders, servers.map((server) => server.pid)));
        log(`deliveries: senders lose ${results.deliveries.senderLossPercent.toFixed(1)}% with the webhooks`);
      } catch (error) {
        fail('deliveries', error);
      }
    }

    if (wants('login-flood')) try {
      // An instance of its own at the real hashing cost; X-Forwarded-For gives each client its address.
      const logins = await start('logins', { SCRYPT_COST: String(LOGIN_FLOOD_SCRYPT_COST), TRUST_PROXY: 'loopback' });
      results.loginFlood = await withCpu(() => loginFlood(logins, p.timing, p.loginFloodClients, LOGIN_FLOOD_SCRYPT_COST));
      await logins.stop();
      const f = results.loginFlood;
      log(
        `login flood: ${f.flood.loginsPerSecond.toFixed(1)} logins/s, ${f.flood.refused} answered 503; page p99 ${f.quiet.pageMs.p99.toFixed(1)} → ${f.flood.pageMs.p99.toFixed(1)} ms, ` +
          `send p99 ${f.quiet.sendMs.p99.toFixed(1)} → ${f.flood.sendMs.p99.toFixed(1)} ms`,
      );
    } catch (error) {
      fail('login flood', error);
    }

    if (wants('connections')) try {
      // A freshly started instance, so that the memory the earlier phases left in the heap does
      // not hide the sockets' cost (the others stay up, idle).
      const fresh = await start('sockets');
      results.connections = await withCpu(() =>
        connections({ ...ctx, recipientWs: fresh }, idleUsers, p.idleSockets, p.connectWarmup, p.connectConcurrency),
      );
      await fresh.stop();
      const c = results.connections;
      log(`connections: ${c.opened}/${c.requested} open, ${Math.round(c.connectsPerSecond)}/s, ${c.kbPerSocket.toFixed(1)} KB/socket`);
    } catch (error) {
      fail('connections', error);
    }

    // Last: its sockets' going (each announced offline 10 s later) must not fall into another
    // phase. The pairs' sockets stayed open, idle, for its K=16 sender.
    if (pairs && wants('live-signals')) {
      try {
        const instances = options.instances === 2 ? [a, b] : [a];
        results.liveSignals = await withCpu(() =>
          liveSignals(ctx, signalUsers, pairs!, { servers: instances, redisUrl, senders: p.liveSignalSenders }),
        );
        const l = results.liveSignals;
        log(
          `live signals: ${Math.round(l.framesDeliveredPerSecond)} frames/s delivered, typing p99 ${l.typingMs.p99.toFixed(1)} ms, ` +
            `K=${p.liveSignalSenders} notification p99 ×${l.p99Ratio?.toFixed(2) ?? '–'} under the load`,
        );
      } catch (error) {
        fail('live signals', error);
      }
      closeSockets(pairSockets(pairs));
    }
  } catch (error) {
    fail('setup', error);
  } finally {
    await cleanup();
  }

  for (const server of servers) {
    results.serverLogs[server.name] = scanLog(server.logFile);
    const died = server.unexpectedExit();
    if (died) results.failures.push(`server ${server.name} (pid ${server.pid}) died during the run with ${died}`);
  }
  results.finishedAt = new Date().toISOString();
  results.machine.loadAverageAtEnd = os.loadavg().map((value) => Number(value.toFixed(2)));
  results.rows = buildRows(results);
  const phases = [
    ...results.throughput,
    results.paced,
    results.fullFlow,
    results.clientLibrary,
    results.uploads?.sendersAlone,
    results.uploads?.sendersWithUploads,
    results.liveSignals?.baseline,
    results.liveSignals?.underLoad,
    results.fanout,
    results.reactions,
    results.loginFlood,
    results.deliveries?.without,
    results.deliveries?.withWebhooks,
    results.deliveries?.withWebhooksAgain,
    results.deliveries?.withoutAgain,
    results.deliveries?.alternated,
    results.deliveries?.halfFailing,
    results.deliveries?.halfNeverAnswering?.run,
  ].filter((phase) => phase !== undefined);
  // A frame whose message is not in the database would be a notification of an uncommitted write.
  const notStored = [...results.throughput, results.paced, results.uploads?.sendersAlone, results.uploads?.sendersWithUploads].reduce(
    (sum, phase) => sum + (phase?.storedToReceive.missing ?? 0),
    0,
  );
  if (notStored > 0) results.failures.push(`${notStored} notifications arrived for messages not found in the database`);
  // Reaction counts that are not what the answered toggles add up to: a lost or doubled toggle.
  if (results.reactions && results.reactions.countMismatches > 0) {
    results.failures.push(`${results.reactions.countMismatches} hot messages show reaction counts other than the toggles answered`);
  }
  results.deliveryProblems =
    phases.reduce((sum, phase) => sum + phase.lost + phase.duplicated + phase.stray, 0) + notStored + (results.liveSignals?.stray ?? 0);
  results.requestErrors =
    phases.reduce((sum, phase) => sum + phase.errors.total, 0) +
    (results.liveSignals?.errors.total ?? 0) +
    results.rawBaselines.reduce((sum, raw) => sum + raw.errors.total, 0) +
    (results.uploads?.errors.total ?? 0) +
    (results.connections?.errors.total ?? 0) +
    (results.search?.errors.total ?? 0);
  const written = writeResults(resultsDir, name, results);

  console.log('');
  console.log(renderTable(results.rows));
  console.log('');
  console.log(`Notification latency: ${results.config.notificationLatency}.`);
  if (results.mode === 'quick') console.log('Quick mode: shorter phases, a 200-member group and 2,000 sockets; the figures are indicative only.');
  for (const [server, scan] of Object.entries(results.serverLogs)) {
    console.log(`Server ${server} log: ${scan.lines} lines, ${scan.warnings} warnings, ${scan.errors} errors, ${scan.responses5xx} 5xx responses.`);
    for (const sample of scan.samples) console.log(`  ${sample}`);
  }
  const problems = [
    ...results.failures.map((failure) => `phase failed: ${failure}`),
    ...phases.flatMap((phase) => [...phase.errors.samples, ...phase.deliverySamples]),
    ...results.rawBaselines.flatMap((raw) => raw.errors.samples),
    ...(results.uploads?.errors.samples ?? []),
    ...(results.connections?.errors.samples ?? []),
    ...(results.liveSignals ? [...results.liveSignals.errors.samples, ...results.liveSignals.samples] : []),
    ...(results.search?.errors.samples ?? []),
  ];
  for (const problem of problems) console.log(`PROBLEM ${problem}`);
  console.log(`Load average at start ${results.machine.loadAverageAtStart}, at end ${results.machine.loadAverageAtEnd}.`);
  console.log(`Wrote ${path.relative(ROOT, written.json)} and ${path.relative(ROOT, written.svg)}.`);
  if (options.profile) console.log('Server CPU profiles in bench/results/profiles/: node dist-bench/profile.js <file> (bench/README.md).');
  const ok = results.failures.length === 0 && results.deliveryProblems === 0 && results.requestErrors === 0;
  console.log(
    ok
      ? 'Every notification arrived exactly once and every request succeeded.'
      : `FAILED: ${results.deliveryProblems} lost/duplicated/stray notifications, ${results.requestErrors} request errors, ${results.failures.length} failed phases.`,
  );
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
