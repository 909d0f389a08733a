/**
 * Summarises a V8 `.cpuprofile` (from `BENCH_SERVER_NODE_ARGS="--cpu-prof …"`) in the terms
 * docs/performance.md and bench/HISTORY.md use: busy samples over time (to find a phase), self
 * time per function, time per package with everything it called, and who calls one function.
 *
 *   node dist-bench/profile.js <file.cpuprofile> [--from S] [--to S] [--top N] [--callers NAME]
 *
 * --from/--to keep the samples between those seconds after the profile's start (the timeline,
 * printed first, shows where each phase's load is).
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface Options {
  file: string;
  fromS: number;
  toS: number;
  top: number;
  callers?: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { file: '', fromS: 0, toS: Infinity, top: 30 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--from') options.fromS = Number(argv[++i]);
    else if (arg === '--to') options.toS = Number(argv[++i]);
    else if (arg === '--top') options.top = Number(argv[++i]);
    else if (arg === '--callers') options.callers = argv[++i];
    else if (!options.file) options.file = arg;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!options.file) throw new Error('usage: node dist-bench/profile.js <file.cpuprofile> [--from S] [--to S] [--top N] [--callers NAME]');
  return options;
}

/** Where a function comes from: an npm package, a folder of Parley's dist/src, a node: module, or native. */
function origin(url: string): string {
  if (!url) return '(native)';
  // The innermost package: a dependency bundled under another's node_modules is its own.
  const packages = [...url.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)];
  if (packages.length > 0) return packages[packages.length - 1][1];
  const inParley = /\/dist\/src\/([^/]+)/.exec(url);
  if (inParley) return `parley:${inParley[1].replace(/\.js$/, '')}`;
  return url.startsWith('node:') ? url : (url.split('/').pop() ?? url);
}

const percent = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1).padStart(5)}%`;
const IDLE = '(idle)';

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const profile = JSON.parse(readFileSync(options.file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const stackOf = (id: number): ProfileNode[] => {
    const stack: ProfileNode[] = [];
    for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) stack.push(nodes.get(current)!);
    return stack;
  };

  // Sample times, and the busy share of each second (idle samples are the event loop waiting).
  const perSecond = new Map<number, { busy: number; all: number }>();
  const kept: number[] = [];
  let at = profile.startTime;
  profile.samples.forEach((id, index) => {
    at += profile.timeDeltas[index];
    const seconds = (at - profile.startTime) / 1e6;
    const second = Math.floor(seconds);
    const bucket = perSecond.get(second) ?? { busy: 0, all: 0 };
    bucket.all++;
    const idle = nodes.get(id)!.callFrame.functionName === IDLE;
    if (!idle) bucket.busy++;
    perSecond.set(second, bucket);
    if (!idle && seconds >= options.fromS && seconds < options.toS) kept.push(id);
  });
  console.log('busy share per second (find the phase, then use --from/--to):');
  console.log([...perSecond].map(([second, b]) => `${second}s ${Math.round((100 * b.busy) / b.all)}%`).join('  '));
  console.log(`\n${kept.length} busy samples kept`);
  if (kept.length === 0) return;

  const self = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  const callers = new Map<string, number>();
  let calls = 0;
  for (const id of kept) {
    const stack = stackOf(id);
    const frame = stack[0].callFrame;
    const line = frame.lineNumber >= 0 ? `:${frame.lineNumber + 1}` : '';
    const name = `${frame.functionName || '(anonymous)'} ${origin(frame.url)}${line}`;
    self.set(name, (self.get(name) ?? 0) + 1);
    // A package counts once per sample, however many of its frames the stack holds.
    for (const where of new Set(stack.map((node) => origin(node.callFrame.url)))) byOrigin.set(where, (byOrigin.get(where) ?? 0) + 1);
    if (options.callers && frame.functionName === options.callers) {
      calls++;
      // Node's own stream and socket plumbing says little about who wrote: it is left out.
      const path = stack
        .slice(1)
        .filter((node) => !node.callFrame.url.startsWith('node:internal/'))
        .slice(0, 6)
        .map((node) => `${node.callFrame.functionName || '(anonymous)'}@${origin(node.callFrame.url)}`)
        .join(' < ');
      callers.set(path, (callers.get(path) ?? 0) + 1);
    }
  }
  const print = (title: string, counts: Map<string, number>, whole: number) => {
    console.log(`\n${title}`);
    for (const [key, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, options.top)) console.log(`${percent(count, whole)}  ${key}`);
  };
  print('self time (share of busy samples):', self, kept.length);
  print('by origin, with everything it called (a stack counts once per origin):', byOrigin, kept.length);
  if (options.callers) print(`callers of ${options.callers} (${calls} samples; share of them):`, callers, Math.max(calls, 1));
}

main();
