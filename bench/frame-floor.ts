/**
 * What the live-signals phase's frames cost on this machine with no Parley at all: one process
 * holds `--sockets` WebSocket server ends and writes `--rate` small frames a second, fanned out
 * in groups of `--group` as a conversation's typing frame is; this process holds the client ends
 * and parses every frame, as the harness does. Both use `ws`, as Parley and the harness do.
 * It prints the CPU each side used, in cores: the floor under what the live-signals load can
 * cost, since Parley writes the same frames through the same library and system calls.
 *
 *   npm run bench:floor -- [--sockets 13500] [--rate 24800] [--group 25] [--seconds 12]
 */
import { fork } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';

interface Options {
  sockets: number;
  rate: number;
  group: number;
  seconds: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { sockets: 13_500, rate: 24_800, group: 25, seconds: 12 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '') as keyof Options;
    if (!(key in options) || !Number.isFinite(Number(argv[i + 1]))) throw new Error(`unknown argument ${argv[i]} (use --sockets, --rate, --group, --seconds)`);
    options[key] = Number(argv[i + 1]);
  }
  return options;
}

/** A typing frame as Parley sends it, ids of bench size. */
const FRAME = Buffer.from(JSON.stringify({ type: 'typing', conversationId: '1234567', userId: '7654321' }));
const SOURCE_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];

const cores = (usage: NodeJS.CpuUsage, ms: number) => Number(((usage.user + usage.system) / 1000 / ms).toFixed(2));

/** The writing side, in a process of its own as the server is. */
async function writer(): Promise<void> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  const sockets: WebSocket[] = [];
  server.on('connection', (socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.once('listening', resolve));
  process.send!({ port: (server.address() as { port: number }).port });
  process.once('message', (options: Options) => {
    const groupsPerTick = options.rate / options.group / 200;
    let owed = 0;
    let sent = 0;
    const start = performance.now();
    const cpu = process.cpuUsage();
    const timer = setInterval(() => {
      // Every 5 ms, the groups due: each frame written to each member's socket, as Parley's deliver loop does.
      for (owed += groupsPerTick; owed >= 1; owed--) {
        const first = Math.floor(Math.random() * (sockets.length - options.group));
        for (let i = first; i < first + options.group; i++) {
          sockets[i].send(FRAME, { binary: false });
          sent++;
        }
      }
      if (performance.now() - start >= options.seconds * 1000) {
        clearInterval(timer);
        const ms = performance.now() - start;
        process.send!({ sent, ms, cores: cores(process.cpuUsage(cpu), ms) });
      }
    }, 5);
  });
}

async function reader(options: Options): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['--writer'], { stdio: 'inherit' });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', resolve as (value: unknown) => void));
  let received = 0;
  const clients: WebSocket[] = [];
  for (let opened = 0; opened < options.sockets; ) {
    const batch = Math.min(200, options.sockets - opened);
    await Promise.all(
      Array.from({ length: batch }, (_, i) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false, localAddress: SOURCE_ADDRESSES[(opened + i) % SOURCE_ADDRESSES.length] });
        ws.on('message', (data) => {
          const text = String(data);
          if (text.startsWith('{"type":"typing"')) JSON.parse(text);
          received++;
        });
        clients.push(ws);
        return new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      }),
    );
    opened += batch;
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const machineStart = os.cpus().map((cpu) => cpu.times);
  const cpu = process.cpuUsage();
  const start = performance.now();
  child.send(options);
  const written = await new Promise<{ sent: number; ms: number; cores: number }>((resolve) => child.once('message', resolve as (value: unknown) => void));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const ms = performance.now() - start;
  const readerCores = cores(process.cpuUsage(cpu), ms);
  const machineEnd = os.cpus().map((cpu) => cpu.times);
  const busy = machineEnd.reduce((sum, times, i) => {
    const before = machineStart[i];
    const total = Object.values(times).reduce((a, b) => a + b, 0) - Object.values(before).reduce((a, b) => a + b, 0);
    return sum + (total - (times.idle - before.idle)) / Math.max(1, total);
  }, 0);
  console.log(
    `${options.sockets} sockets, ${Math.round(written.sent / (written.ms / 1000))} frames/s written in groups of ${options.group} for ${(written.ms / 1000).toFixed(1)} s, ${received} received\n` +
      `CPU cores: writer ${written.cores}, reader ${readerCores}, machine ${busy.toFixed(2)} of ${os.cpus().length}`,
  );
  for (const ws of clients) ws.terminate();
  child.kill();
}

if (process.argv.includes('--writer')) void writer();
else void reader(parseArgs(process.argv.slice(2)));
