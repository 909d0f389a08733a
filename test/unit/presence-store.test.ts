import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalPresenceStore } from '../../src/presence/presence-store.js';

describe('LocalPresenceStore', () => {
  let store: LocalPresenceStore;
  const announced: { userId: string; status: string; at: number }[] = [];

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    announced.length = 0;
    store = new LocalPresenceStore(10_000);
    store.onTransition = (userId, status) => announced.push({ userId, status, at: Date.now() });
  });

  afterEach(() => {
    store.onApplicationShutdown();
    vi.useRealTimers();
  });

  it('announces online at once, and offline once the grace has passed, unless a socket came back', () => {
    store.socketOpened('a');
    store.socketOpened('a');
    expect(announced).toEqual([{ userId: 'a', status: 'online', at: 1_000_000 }]);
    store.socketClosed('a');
    store.socketClosed('a');
    vi.advanceTimersByTime(5_000);
    // A reload within the grace: no flicker.
    store.socketOpened('a');
    vi.advanceTimersByTime(20_000);
    expect(announced.map((change) => change.status)).toEqual(['online']);
    store.socketClosed('a');
    vi.advanceTimersByTime(10_100);
    expect(announced.map((change) => change.status)).toEqual(['online', 'offline']);
  });

  it('announces each offline within a tenth of a second of its grace, not a second’s worth together', () => {
    store.socketOpened('a');
    store.socketOpened('b');
    vi.advanceTimersByTime(150);
    store.socketClosed('a');
    vi.advanceTimersByTime(300);
    store.socketClosed('b');
    vi.advanceTimersByTime(12_000);
    // Due at 10,150 and 10,450 ms: each announced by the first sweep after it.
    expect(announced.filter((change) => change.status === 'offline').map((change) => [change.userId, change.at - 1_000_000])).toEqual([
      ['a', expect.toSatisfy((ms: number) => ms >= 10_150 && ms <= 10_250)],
      ['b', expect.toSatisfy((ms: number) => ms >= 10_450 && ms <= 10_550)],
    ]);
  });
});
