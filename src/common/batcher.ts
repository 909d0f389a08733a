export interface BatcherOptions {
  /** Batches running at once; a call made while all are busy joins the next batch. */
  maxInFlight: number;
  /** The most calls one batch takes. */
  maxBatch: number;
  /**
   * Whether a batch's failure is known to have changed nothing, so that each of its calls may
   * run again alone and fail (or not) on its own. When it is not (a connection lost during
   * the commit, say), every call of the batch gets the error: running them again could do
   * their work twice.
   */
  canRetryAlone: (error: unknown) => boolean;
  /** Told the size of every batch that starts. */
  onBatch?: (size: number) => void;
}

interface Pending<In, Out> {
  input: In;
  resolve: (output: Out) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers calls into batches without waiting on a timer: a call runs at once while fewer than
 * `maxInFlight` batches are running, and otherwise waits for one to finish, together with
 * every call that arrives meanwhile. At low load each call runs alone with no added delay;
 * under load the batches grow by themselves, and one round trip serves many calls.
 */
export class Batcher<In, Out> {
  private readonly queue: Pending<In, Out>[] = [];
  private inFlight = 0;

  /** `run` answers one output per input, in the same order. */
  constructor(
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    private readonly options: BatcherOptions,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.inFlight < this.options.maxInFlight) this.startBatch();
    });
  }

  private startBatch(): void {
    const batch = this.queue.splice(0, this.options.maxBatch);
    this.inFlight++;
    this.options.onBatch?.(batch.length);
    void this.settle(batch).finally(() => {
      this.inFlight--;
      if (this.queue.length > 0) this.startBatch();
    });
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
