import { describe, expect, it } from 'vitest';
import { ratioToBaselines } from '../../bench/report.js';

/** The ratio target is judged on this figure (bench/report.ts). */
describe('the benchmark ratio to the raw baseline', () => {
  it('divides by the mean of the baselines, and gives the ratio to each in their order', () => {
    const ratio = ratioToBaselines(4000, [8000, 10_000]);
    expect(ratio?.baseline).toBe(9000);
    expect(ratio?.ratio).toBeCloseTo(4000 / 9000, 10);
    expect(ratio?.each).toEqual([0.5, 0.4]);
  });

  it('leaves out a baseline that stored nothing, and has no ratio without one', () => {
    expect(ratioToBaselines(3000, [0, 6000])).toEqual({ baseline: 6000, ratio: 0.5, each: [NaN, 0.5] });
    expect(ratioToBaselines(3000, [0])).toBeUndefined();
    expect(ratioToBaselines(3000, [])).toBeUndefined();
  });
});
