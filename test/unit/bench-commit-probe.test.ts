import { describe, expect, it } from 'vitest';
import { windowsHitByStalls } from '../../bench/commit-probe.js';

/**
 * The benchmark says how many slow fan-out repeats overlapped a stall of the database's own
 * commits (bench/commit-probe.ts); that count is only as good as the overlap test.
 */
describe('the benchmark commit probe', () => {
  const repeat = { start: 100, end: 160 };

  it('counts a repeat that a stall overlapped at its start, inside or at its end', () => {
    expect(windowsHitByStalls([repeat], [{ start: 80, ms: 30 }])).toBe(1);
    expect(windowsHitByStalls([repeat], [{ start: 120, ms: 25 }])).toBe(1);
    expect(windowsHitByStalls([repeat], [{ start: 150, ms: 40 }])).toBe(1);
    expect(windowsHitByStalls([repeat], [{ start: 50, ms: 200 }])).toBe(1);
  });

  it('does not count a repeat with stalls only before or after it', () => {
    expect(windowsHitByStalls([repeat], [{ start: 40, ms: 60 }, { start: 160, ms: 90 }])).toBe(0);
  });

  it('counts each repeat once, however many stalls overlapped it', () => {
    const later = { start: 300, end: 350 };
    const stalls = [{ start: 110, ms: 21 }, { start: 140, ms: 30 }, { start: 320, ms: 22 }];
    expect(windowsHitByStalls([repeat, later, { start: 200, end: 260 }], stalls)).toBe(2);
  });
});
