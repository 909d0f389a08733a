import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeliveredOnce, GENERATION_MS } from '../../src/notifications/delivered-once.js';

describe('DeliveredOnce', () => {
  afterEach(() => vi.useRealTimers());

  it('says first once per user and message', () => {
    const once = new DeliveredOnce();
    expect(once.first('1', '10')).toBe(true);
    expect(once.first('1', '10')).toBe(false);
    expect(once.first('2', '10')).toBe(true);
    expect(once.first('1', '11')).toBe(true);
  });

  it('remembers for at least one generation and forgets after two', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const once = new DeliveredOnce();
    expect(once.first('1', '10')).toBe(true);
    vi.advanceTimersByTime(GENERATION_MS + 1);
    // Rotated into the older generation: still a repeat.
    expect(once.first('1', '10')).toBe(false);
    vi.advanceTimersByTime(GENERATION_MS + 1);
    expect(once.first('1', '10')).toBe(true);
  });
});
