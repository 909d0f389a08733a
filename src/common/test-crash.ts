/**
 * Where a test may have the process die at once, as a killed VM or an OOM kill would: between a
 * send's commit and its publish, for the outbox relay's test. Only with NODE_ENV=test and
 * PARLEY_TEST_CRASH_AT=<point>; in any other environment the variable is ignored.
 */
export type CrashPoint = 'send-committed';

const crashAt = process.env.NODE_ENV === 'test' ? process.env.PARLEY_TEST_CRASH_AT : undefined;

export function crashPoint(point: CrashPoint): void {
  if (crashAt === point) process.kill(process.pid, 'SIGKILL');
}
