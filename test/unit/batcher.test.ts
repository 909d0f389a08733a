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

const options = <In = number>(extra: Partial<BatcherOptions<In>> = {}): BatcherOptions<In> => ({
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

describe('Batcher with keys', () => {
  /** A run whose batches finish only when the test says, by their place in `batches`. */
  function controlledRun() {
    const batches: string[][] = [];
    const finishers: (() => void)[] = [];
    const run = async (inputs: string[]) => {
      batches.push(inputs);
      await new Promise<void>((finish) => finishers.push(finish));
      return inputs.map((input) => input.toUpperCase());
    };
    const finish = async (batch: number) => {
      finishers[batch]();
      // The batch's callers, and the batches it lets start, run on later turns.
      await new Promise((resolve) => setImmediate(resolve));
    };
    return { run, batches, finish };
  }
  const keyOf = (input: string) => input[0];

  it('never runs a key in two batches at once, and lets other keys go beside it', async () => {
    const { run, batches, finish } = controlledRun();
    const batcher = new Batcher(run, options<string>({ maxInFlight: 3, keyOf }));
    const results = ['a1', 'a2', 'b1', 'a3', 'c1', 'b2'].map((input) => batcher.submit(input));
    // a1 starts; a2 waits for it; b1 starts beside; a3 queues; c1 starts in the third batch.
    expect(batches).toEqual([['a1'], ['b1'], ['c1']]);
    await finish(1);
    // b is free again, a is still held: b2 goes on alone, ahead of a2 and a3.
    expect(batches.slice(3)).toEqual([['b2']]);
    await finish(0);
    expect(batches.slice(4)).toEqual([['a2', 'a3']]);
    for (const batch of [2, 3, 4]) await finish(batch);
    expect(await Promise.all(results)).toEqual(['A1', 'A2', 'B1', 'A3', 'C1', 'B2']);
  });

  it('starts no empty batch for a call whose key is held', async () => {
    const { run, batches, finish } = controlledRun();
    const sizes: number[] = [];
    const batcher = new Batcher(run, options<string>({ maxInFlight: 4, keyOf, onBatch: (size) => sizes.push(size) }));
    const results = ['a1', 'a2', 'a3'].map((input) => batcher.submit(input));
    expect(batches).toEqual([['a1']]);
    await finish(0);
    await finish(1);
    expect(batches).toEqual([['a1'], ['a2', 'a3']]);
    expect(sizes).toEqual([1, 2]);
    expect(await Promise.all(results)).toEqual(['A1', 'A2', 'A3']);
  });

  it('starts a batch beside a running one only once minBatchBeside calls may run', async () => {
    const { run, batches, finish } = controlledRun();
    const batcher = new Batcher(run, options<string>({ maxInFlight: 2, minBatchBeside: 3, keyOf }));
    const results = ['a1', 'b1', 'a2', 'c1'].map((input) => batcher.submit(input));
    // a1 runs alone at once; b1 and c1 may run (a2 may not, a is held), but two are too few.
    expect(batches).toEqual([['a1']]);
    results.push(batcher.submit('d1'));
    expect(batches).toEqual([['a1'], ['b1', 'c1', 'd1']]);
    await finish(1);
    // With a1 still running, a2 alone waits for it rather than start a statement beside it.
    results.push(batcher.submit('e1'));
    expect(batches).toHaveLength(2);
    await finish(0);
    // Nothing runs any more: whatever waits starts, however few.
    expect(batches[2]).toEqual(['a2', 'e1']);
    await finish(2);
    expect(await Promise.all(results)).toEqual(['A1', 'B1', 'A2', 'C1', 'D1', 'E1']);
  });

  it.each([1, 3])('keeps each key in arrival order and its batches apart, whatever order batches finish in (minBatchBeside %i)', async (minBatchBeside) => {
    // A small seeded generator, so that a failure can be replayed.
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const running: string[][] = [];
    const ranInOrder = new Map<string, number[]>();
    const finishers: (() => void)[] = [];
    const run = async (inputs: string[]) => {
      for (const other of running) {
        expect(other.some((input) => inputs.some((mine) => keyOf(mine) === keyOf(input)))).toBe(false);
      }
      running.push(inputs);
      for (const input of inputs) ranInOrder.set(keyOf(input), [...(ranInOrder.get(keyOf(input)) ?? []), Number(input.slice(1))]);
      await new Promise<void>((finish) => finishers.push(finish));
      running.splice(running.indexOf(inputs), 1);
      return inputs;
    };
    const batcher = new Batcher(run, options<string>({ maxInFlight: 3, maxBatch: 4, minBatchBeside, keyOf }));
    const submitted = new Map<string, number[]>();
    const results: Promise<string>[] = [];
    for (let step = 0; step < 400; step++) {
      if (random() < 0.6) {
        const key = 'abcde'[Math.floor(random() * 5)];
        const n = (submitted.get(key) ?? []).length;
        submitted.set(key, [...(submitted.get(key) ?? []), n]);
        results.push(batcher.submit(`${key}${n}`));
      } else if (finishers.length > 0) {
        finishers.splice(Math.floor(random() * finishers.length), 1)[0]();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    while (finishers.length > 0) {
      finishers.splice(0).forEach((finish) => finish());
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(results);
    expect(ranInOrder).toEqual(submitted);
  });
});

describe('inInputOrder', () => {
  it('puts rows back in the order of their inputs, leaving undefined where no row came back', () => {
    const rows = [{ item: '3', name: 'c' }, { item: '1', name: 'a' }];
    expect(inInputOrder(rows, 4)).toEqual([{ name: 'a' }, undefined, { name: 'c' }, undefined]);
  });
});
