/**
 * Two builds measured side by side: `npm run bench:paired -- <checkout A> <checkout B>`.
 *
 * Starts both servers at once, each on its own database in the same PostgreSQL, and runs the
 * throughput scenario against both at the same time (32 senders each, in rounds), then
 * prints each server's CPU per message sent and B's over A's. On this workplace's shared VMs
 * the machine's speed drifts by tens of percent between runs a minute apart, which buries a
 * change of a few percent in alternating runs; two servers measured in the same seconds see
 * the same machine. The same build on both sides read 0.958–1.027 per round (median 0.998);
 * on another day a swap of sides showed a bias of about 3%, so run it both ways round.
 *
 * Each checkout must be built (`npx nest build`). Neither server's figures are the issue's
 * targets: two servers and one harness share the two cores. Only the servers' logs are
 * written (results/server-A.log.tmp, server-B.log.tmp); no results file.
 */
import path from 'node:path';
import { HttpClient } from './clients.js';
import { measureCpu } from './cpu.js';
import { setupPairs, type Pair } from './scenarios/pairs.js';
import { throughput } from './scenarios/throughput.js';
import { FULL_TIMING, type BenchContext } from './scenarios/common.js';
import { createDatabase, randomSecret, ROOT, seedUsers, startServer, type BenchDatabase, type ServerInstance } from './server.js';
import { StoreClock } from './store-clock.js';

const SENDERS = 32;
const POOL_SIZE = 10;

interface Side {
  label: string;
  server: ServerInstance;
  ctx: BenchContext;
  pairs: Pair[];
}

interface RoundFigures {
  messagesPerSecond: number;
  serverUsPerMessage: number;
  lost: number;
  duplicated: number;
  errors: number;
}

const log = (line: string) => console.log(`[paired ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function startSide(label: string, dir: string, cleanups: (() => Promise<unknown>)[]): Promise<Side> {
  const db: BenchDatabase = await createDatabase(label.toLowerCase());
  cleanups.push(() => db.drop());
  const jwtSecret = randomSecret();
  const server = await startServer(label, { databaseUrl: db.url, jwtSecret, poolSize: POOL_SIZE, serverDir: dir }, path.join(ROOT, 'bench', 'results'));
  cleanups.push(() => server.stop());
  const storeClock = await StoreClock.open(db.url);
  cleanups.push(() => storeClock.close());
  const http = new HttpClient('127.0.0.1', server.port, 2 * SENDERS);
  cleanups.push(async () => http.close());
  const ctx: BenchContext = { quick: false, api: server, senderWs: server, recipientWs: server, http, storeClock, timing: FULL_TIMING, log: () => undefined };
  const pairs = await setupPairs(ctx, await seedUsers(db.url, 2 * SENDERS, jwtSecret, 3600), SENDERS);
  log(`${label}: ${dir} on port ${server.port} (pid ${server.pid}), ${pairs.length} pairs`);
  return { label, server, ctx, pairs };
}

async function round(side: Side): Promise<RoundFigures> {
  const stop = measureCpu([side.server.pid]);
  const result = await throughput(side.ctx, side.pairs, SENDERS);
  const cpu = stop();
  return {
    messagesPerSecond: result.messagesPerSecond,
    // Cores over the whole phase ÷ messages a second in its window, as `npm run bench` reports it.
    serverUsPerMessage: cpu && result.messagesPerSecond > 0 ? (cpu.server / result.messagesPerSecond) * 1e6 : NaN,
    lost: result.lost,
    duplicated: result.duplicated,
    errors: result.errors.total,
  };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const roundsAt = args.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 5;
  if (args.length !== 2 || !(rounds >= 1)) {
    console.error('usage: npm run bench:paired -- <built checkout A> <built checkout B> [--rounds N]');
    return 2;
  }
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const a = await startSide('A', path.resolve(args[0]), cleanups);
    const b = await startSide('B', path.resolve(args[1]), cleanups);
    const ratios: number[] = [];
    let clean = true;
    // The first round warms both up (JIT, pools) and is not counted.
    for (let i = 0; i <= rounds; i++) {
      // Whichever side's loops start first, alternately, in case that favours one.
      const [fa, fb] = i % 2 === 0 ? await Promise.all([round(a), round(b)]) : await Promise.all([round(b), round(a)]).then(([fb, fa]) => [fa, fb]);
      clean &&= [fa, fb].every((f) => f.lost === 0 && f.duplicated === 0 && f.errors === 0);
      const ratio = fb.serverUsPerMessage / fa.serverUsPerMessage;
      if (i > 0) ratios.push(ratio);
      log(
        `${i === 0 ? 'warm-up' : `round ${i}`}: A ${Math.round(fa.messagesPerSecond)} msg/s, ${fa.serverUsPerMessage.toFixed(0)} µs/msg | ` +
          `B ${Math.round(fb.messagesPerSecond)} msg/s, ${fb.serverUsPerMessage.toFixed(0)} µs/msg | B/A CPU a message ${ratio.toFixed(3)}` +
          ([fa, fb].some((f) => f.lost + f.duplicated + f.errors > 0) ? ` (lost/dup/errors A ${fa.lost}/${fa.duplicated}/${fa.errors}, B ${fb.lost}/${fb.duplicated}/${fb.errors})` : ''),
      );
    }
    const sorted = [...ratios].sort((x, y) => x - y);
    log(`B/A server CPU a message over ${rounds} rounds: ${sorted[0].toFixed(3)}–${sorted[sorted.length - 1].toFixed(3)}, median ${sorted[Math.floor(sorted.length / 2)].toFixed(3)}`);
    if (!clean) log('SOME NOTIFICATIONS WERE LOST OR DUPLICATED, OR REQUESTS FAILED (above)');
    return clean ? 0 : 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: Error) => log(`cleanup: ${error.message}`));
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.stack ?? error.message);
    process.exit(1);
  },
);
