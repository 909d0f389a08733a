import { describe, expect, it } from 'vitest';
import { Batcher, inInputOrder, type BatcherOptions } from '../../src/common/batcher.js';

class Refused extends Error {}

/** A run that doubles its inputs once released, and records every batch it was given. */
function recordingRun(fail: (inputs: number[]) => Error | undefined = () => undefined) {
  const batches: number[][] = [];
  const waiting: (() => void)[] = [];
  let running = 0;
  let mostRunning = 0;
  const run = async (inputs: number[]) => {
    batches.push(inputs);
    mostRunning = Math.max(mostRunning, ++running);
    await new Promise<void>((release) => waiting.push(release));
    running--;
    const error = fail(inputs);
    if (error) throw error;
    return inputs.map((input) => input * 2);
  };
  /** Lets every batch started so far finish, until no batch is left running. */
  const drain = async () => {
    while (waiting.length > 0 || running > 0) {
      waiting.splice(0).forEach((release) => release());
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { run, batches, drain, mostRunning: () => mostRunning };
}

const options = (extra: Partial<BatcherOptions> = {}): BatcherOptions => ({
  maxInFlight: 2,
  maxBatch: 100,
  canRetryAlone: (error) => error instanceof Refused,
  ...extra,
});

describe('Batcher', () => {
  it('runs calls at once while batches are free, and gathers the rest into the next batch', async () => {
    const { run, batches, drain, mostRunning } = recordingRun();
    const sizes: number[] = [];
    const batcher = new Batcher(run, options({ onBatch: (size) => sizes.push(size) }));
    const results = Promise.all([1, 2, 3, 4, 5].map((n) => batcher.submit(n)));
    await drain();
    expect(await results).toEqual([2, 4, 6, 8, 10]);
    expect(batches).toEqual([[1], [2], [3, 4, 5]]);
    expect(sizes).toEqual([1, 1, 3]);
    expect(mostRunning()).toBe(2);
  });

  it('takes at most maxBatch calls per batch', async () => {
    const { run, batches, drain } = recordingRun();
    const batcher = new Batcher(run, options({ maxInFlight: 1, maxBatch: 2 }));
    const results = Promise.all([1, 2, 3, 4, 5, 6].map((n) => batcher.submit(n)));
    await drain();
    expect(await results).toEqual([2, 4, 6, 8, 10, 12]);
    expect(batches).toEqual([[1], [2, 3], [4, 5], [6]]);
  });

  it('runs each call of a refused batch again alone, so that only the bad one fails', async () => {
    const { run, batches, drain } = recordingRun((inputs) => (inputs.includes(4) ? new Refused('four') : undefined));
    const batcher = new Batcher(run, options({ maxInFlight: 1 }));
    const results = [1, 3, 4, 5].map((n) => batcher.submit(n).then((value) => ({ value }), (error: Error) => ({ error: error.message })));
    await drain();
    expect(await Promise.all(results)).toEqual([{ value: 2 }, { value: 6 }, { error: 'four' }, { value: 10 }]);
    expect(batches).toEqual([[1], [3, 4, 5], [3], [4], [5]]);
  });

  it('fails every call of a batch, without running them again, when the failure may have done their work', async () => {
    const { run, batches, drain } = recordingRun((inputs) => (inputs.length > 1 ? new Error('connection lost') : undefined));
    const batcher = new Batcher(run, options({ maxInFlight: 1 }));
    const results = [1, 2, 3].map((n) => batcher.submit(n).then((value) => ({ value }), (error: Error) => ({ error: error.message })));
    await drain();
    expect(await Promise.all(results)).toEqual([{ value: 2 }, { error: 'connection lost' }, { error: 'connection lost' }]);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it('keeps going after a failed batch', async () => {
    let failNext = true;
    const { run, drain } = recordingRun(() => (failNext ? ((failNext = false), new Error('once')) : undefined));
    const batcher = new Batcher(run, options({ maxInFlight: 1 }));
    const first = batcher.submit(1).catch((error: Error) => error.message);
    await drain();
    expect(await first).toBe('once');
    const second = batcher.submit(2);
    await drain();
    expect(await second).toBe(4);
  });
});

describe('inInputOrder', () => {
  it('puts rows back in the order of their inputs, leaving undefined where no row came back', () => {
    const rows = [{ item: '3', name: 'c' }, { item: '1', name: 'a' }];
    expect(inInputOrder(rows, 4)).toEqual([{ name: 'a' }, undefined, { name: 'c' }, undefined]);
  });
});
