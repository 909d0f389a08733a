import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

/**
 * Where the CPU went during a phase, from /proc: the server process(es), every `postgres`
 * process, the harness itself, and the whole machine. On 2 shared cores this tells a slow
 * server from a busy machine (a CI run next door shows up as machine time no one here used).
 * Figures are in cores (1.0 = one core fully busy over the phase).
 */
export interface CpuUse {
  server: number;
  postgres: number;
  harness: number;
  machine: number;
  cores: number;
  /** How long the measurement ran. */
  seconds: number;
  /**
   * Share of the phase in which some runnable task waited for a core (the kernel's CPU pressure,
   * /proc/pressure/cpu "some"): how much of every latency was queueing for the CPU. Absent
   * without PSI.
   */
  waitingForCpu?: number;
  /**
   * CPU time per message stored during the phase, in ms (server(s), PostgreSQL, whole machine):
   * a figure that travels between machines better than messages per second. Absent when the
   * phase stored none.
   */
  msPerMessage?: { messages: number; server: number; postgres: number; machine: number };
}

/** USER_HZ: clock ticks per second in /proc/<pid>/stat; 100 on every mainstream Linux build. */
const TICKS_PER_SECOND = 100;

function processTicks(pid: number): { ticks: number; name: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name is in parentheses and may contain spaces; the fields after it are fixed.
    const close = stat.lastIndexOf(')');
    const name = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    return { ticks: Number(fields[11]) + Number(fields[12]), name };
  } catch {
    return undefined;
  }
}

function postgresTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = processTicks(pid);
    if (stat?.name === 'postgres') ticks.set(pid, stat.ticks);
  }
  return ticks;
}

/** µs in which some task waited for a core, since boot; undefined without PSI. */
function cpuPressureMicros(): number | undefined {
  try {
    const some = readFileSync('/proc/pressure/cpu', 'utf8').split('\n').find((line) => line.startsWith('some '));
    const total = /total=(\d+)/.exec(some ?? '');
    return total ? Number(total[1]) : undefined;
  } catch {
    return undefined;
  }
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const values = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = values.reduce((sum, value) => sum + value, 0);
  const idle = values[3] + values[4];
  return { busy: total - idle, total };
}

/** Starts measuring; the returned function ends the measurement. Never throws (no /proc: zeros). */
export function measureCpu(serverPids: number[]): () => CpuUse | undefined {
  try {
    const start = performance.now();
    const harness = process.cpuUsage();
    const servers = serverPids.map((pid) => processTicks(pid)?.ticks ?? 0);
    const postgres = postgresTicks();
    const machine = machineTicks();
    const pressure = cpuPressureMicros();
    return () => {
      try {
        const seconds = (performance.now() - start) / 1000;
        const harnessUsed = process.cpuUsage(harness);
        const serverTicks = serverPids.reduce((sum, pid, i) => sum + ((processTicks(pid)?.ticks ?? servers[i]) - servers[i]), 0);
        let postgresUsed = 0;
        // Backends that ended during the phase are lost; ones that started count from zero.
        for (const [pid, ticks] of postgresTicks()) postgresUsed += ticks - (postgres.get(pid) ?? 0);
        const machineNow = machineTicks();
        const pressureNow = cpuPressureMicros();
        const cores = os.cpus().length;
        const round = (value: number) => Number(value.toFixed(2));
        return {
          server: round(serverTicks / TICKS_PER_SECOND / seconds),
          postgres: round(postgresUsed / TICKS_PER_SECOND / seconds),
          harness: round((harnessUsed.user + harnessUsed.system) / 1e6 / seconds),
          machine: round(((machineNow.busy - machine.busy) / Math.max(1, machineNow.total - machine.total)) * cores),
          cores,
          seconds: round(seconds),
          ...(pressure !== undefined && pressureNow !== undefined ? { waitingForCpu: round((pressureNow - pressure) / 1e6 / seconds) } : {}),
        };
      } catch {
        return undefined;
      }
    };
  } catch {
    return () => undefined;
  }
}

/** A phase that stored fewer (its setup's messages, say) stores none to speak of. */
const FEWEST_MESSAGES = 100;

/** `cpu` with the CPU time per stored message, given how many messages the phase stored. */
export function perMessage(cpu: CpuUse | undefined, messages: number): CpuUse | undefined {
  if (!cpu || messages < FEWEST_MESSAGES) return cpu;
  const ms = (cores: number) => (cores * cpu.seconds * 1000) / messages;
  return { ...cpu, msPerMessage: { messages, server: ms(cpu.server), postgres: ms(cpu.postgres), machine: ms(cpu.machine) } };
}
