import { describe, expect, it } from 'vitest';
import { Deadlines } from '../../src/notifications/deadlines.js';

describe('Deadlines', () => {
  it('hands out each item once, in the sweep of the second its deadline falls in, and not before', () => {
    const deadlines = new Deadlines<string>(10_000);
    deadlines.schedule('a', 11_200);
    deadlines.schedule('b', 12_000);
    deadlines.schedule('c', 13_500);
    expect(deadlines.takeDue(11_999)).toEqual([]);
    expect(deadlines.takeDue(12_000).sort()).toEqual(['a', 'b']);
    expect(deadlines.takeDue(13_999)).toEqual([]);
    expect(deadlines.takeDue(14_000)).toEqual(['c']);
    expect(deadlines.size).toBe(0);
  });

  it('moves a rescheduled item, forgets a removed one, and makes a past deadline due at once', () => {
    const deadlines = new Deadlines<string>(10_000);
    deadlines.schedule('moved', 11_000);
    deadlines.schedule('removed', 11_000);
    deadlines.schedule('moved', 20_000);
    deadlines.remove('removed');
    expect(deadlines.takeDue(12_000)).toEqual([]);
    deadlines.schedule('late', 1_000);
    expect(deadlines.takeDue(13_000)).toEqual(['late']);
    expect(deadlines.takeDue(20_000)).toEqual(['moved']);
  });
});
