export interface BatcherOptions<In = unknown> {
  /** Batches running at once; a call made while all are busy joins the next batch. */
  maxInFlight: number;
  /** The most calls one batch takes. */
  maxBatch: number;
  /**
   * The fewest calls a batch starts with while another batch runs (default 1). A batch started
   * beside another costs a round trip (and, for writes, a commit) of its own: with a floor, a
   * few calls wait for the running batch instead, and extra batches run only when calls pile up.
   * With nothing running, a call still runs at once.
   */
  minBatchBeside?: number;
  /**
   * Whether a batch's failure is known to have changed nothing, so that each of its calls may
   * run again alone and fail (or not) on its own. When it is not (a connection lost during
   * the commit, say), every call of the batch gets the error: running them again could do
   * their work twice.
   */
  canRetryAlone: (error: unknown) => boolean;
  /**
   * What a call must not share with a running batch (its conversation, for sends). With a key,
   * a batch takes no call whose key a running batch holds, and calls of one key run in the
   * order they came, each batch after the last one that held it; calls of other keys go on
   * beside it. Without, any call joins any batch.
   */
  keyOf?: (input: In) => string;
  /** Told the size of every batch that starts. */
  onBatch?: (size: number) => void;
}

interface Pending<In, Out> {
  input: In;
  key?: string;
  resolve: (output: Out) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers calls into batches without waiting on a timer: a call runs at once while fewer than
 * `maxInFlight` batches are running, and otherwise waits for one to finish, together with
 * every call that arrives meanwhile. At low load each call runs alone with no added delay;
 * under load the batches grow by themselves, and one round trip serves many calls.
 *
 * With `keyOf`, running batches hold disjoint keys (see BatcherOptions.keyOf): a call whose key
 * is held waits in the queue while later calls of free keys may start before it.
 */
export class Batcher<In, Out> {
  private readonly queue: Pending<In, Out>[] = [];
  private inFlight = 0;
  /** Keys held by running batches. */
  private readonly held = new Set<string>();
  /** Keys matter only between batches running at once: with one, a call never waits on its key. */
  private readonly keyOf: ((input: In) => string) | undefined;

  /** `run` answers one output per input, in the same order. */
  constructor(
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    private readonly options: BatcherOptions<In>,
  ) {
    this.keyOf = options.maxInFlight > 1 ? options.keyOf : undefined;
  }

  /** Batches running now. */
  get running(): number {
    return this.inFlight;
  }

  submit(input: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      const key = this.keyOf?.(input);
      this.queue.push({ input, key, resolve, reject });
      // While a batch is free, every waiting call's key is held (a finishing batch starts all it
      // can), so only this call can be new work.
      if (this.inFlight < this.options.maxInFlight && (key === undefined || !this.held.has(key))) this.startBatch();
    });
  }

  /** Starts a batch of the waiting calls that may run; false when too few may. */
  private startBatch(): boolean {
    const fewest = this.inFlight === 0 ? 1 : (this.options.minBatchBeside ?? 1);
    if (this.queue.length < fewest) return false;
    const batch = this.keyOf ? this.takeFreeCalls(fewest) : this.queue.splice(0, this.options.maxBatch);
    if (batch.length === 0) return false;
    this.inFlight++;
    this.options.onBatch?.(batch.length);
    void this.settle(batch).finally(() => {
      this.inFlight--;
      if (this.keyOf) for (const call of batch) this.held.delete(call.key!);
      let started = true;
      while (started && this.queue.length > 0 && this.inFlight < this.options.maxInFlight) started = this.startBatch();
    });
    return true;
  }

  /**
   * Takes, in arrival order, up to maxBatch waiting calls whose keys no running batch holds,
   * and holds their keys; none if fewer than `fewest` may run. A key passed over once (held) is
   * passed over for the rest of the queue, so that a key's calls never overtake one another.
   */
  private takeFreeCalls(fewest: number): Pending<In, Out>[] {
    const taken: Pending<In, Out>[] = [];
    const kept: Pending<In, Out>[] = [];
    const keys = new Set<string>();
    for (const call of this.queue) {
      const key = call.key!;
      if (taken.length < this.options.maxBatch && (keys.has(key) || !this.held.has(key))) {
        taken.push(call);
        keys.add(key);
      } else {
        kept.push(call);
      }
    }
    if (taken.length < fewest) return [];
    this.queue.splice(0, this.queue.length, ...kept);
    for (const key of keys) this.held.add(key);
    return taken;
  }

  private async settle(batch: Pending<In, Out>[]): Promise<void> {
    try {
      const outputs = await this.run(batch.map((call) => call.input));
      batch.forEach((call, i) => call.resolve(outputs[i]));
    } catch (error) {
      if (batch.length === 1 || !this.options.canRetryAlone(error)) {
        for (const call of batch) call.reject(error);
        return;
      }
      // One call's failure (a clientMessageId sent twice at once, say) must not fail the rest.
      // They run side by side, so that one stuck call (a lock wait) holds up the others once
      // rather than in turn; their order among themselves is therefore not kept.
      await Promise.all(
        batch.map((call) => this.run([call.input]).then(([output]) => call.resolve(output), call.reject)),
      );
    }
  }
}

/**
 * Rows of a batched statement back in input order: each row carries `item`, the 1-based place
 * of its input (`WITH ORDINALITY`); inputs without a row get undefined.
 */
export function inInputOrder<T>(rows: (T & { item: string })[], count: number): (T | undefined)[] {
  const outputs: (T | undefined)[] = new Array(count).fill(undefined);
  for (const { item, ...row } of rows) outputs[Number(item) - 1] = row as T;
  return outputs;
}
