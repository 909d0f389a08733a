import type { PGlite } from '@electric-sql/pglite';

interface Pending {
  handlerId: number;
  /** A frontend protocol message, or undefined for "this connection has gone: free the session". */
  message?: Uint8Array;
  onData?: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (error: Error) => void;
}

const READY_FOR_QUERY = 0x5a; // 'Z'
const IDLE = 0x49; // 'I': ReadyForQuery outside a transaction
const SYNC = Uint8Array.of(0x53, 0, 0, 0, 4);
const ROLLBACK = simpleQuery('ROLLBACK');

/**
 * Decides which connection of the embedded server PGlite's one session serves next.
 *
 * PGlite has a single session, so a connection must have it to itself from its first message
 * until the session is idle again (a ReadyForQuery with status `I`): across an extended-protocol
 * batch (Parse, Bind, Execute … Sync: the unnamed statement and portal live until Sync) and
 * across a transaction. The queue of `@electric-sql/pglite-socket` 0.2.17 pins a connection only
 * inside a transaction, so two connections' batches interleave and one binds its parameters to
 * the other's statement ("bind message supplies 1 parameters, but prepared statement requires
 * 2", or silently the wrong statement: electric-sql/pglite#1046); and one failed message stops
 * that queue for good. This class replaces it, with the interface the socket handlers call.
 */
export class PgliteSessionQueue {
  private pending: Pending[] = [];
  /** The connection that has the session; null while the session is idle. */
  private owner: number | null = null;
  private running = false;

  constructor(private readonly db: PGlite) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.push({ handlerId, message, onData, resolve, reject });
      void this.run();
    });
  }

  getQueueLength(): number {
    return this.pending.length;
  }

  /**
   * Drops a gone connection's messages. Its pending release stays: a connection can be detached
   * twice (an error, then the close), and the first detach is still waiting for that release,
   * with nobody to catch a rejection.
   */
  clearQueueForHandler(handlerId: number): void {
    this.pending = this.pending.filter((item) => {
      if (item.handlerId !== handlerId || !item.message) return true;
      item.reject(new Error('Handler disconnected'));
      return false;
    });
  }

  /**
   * Called when a connection goes. If it has the session (now, or once a message of its that is
   * running finishes), end its batch and roll back its transaction, so the others can go on.
   */
  clearTransactionIfNeeded(handlerId: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ handlerId, resolve: () => resolve(), reject });
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const index = this.owner === null ? (this.pending.length > 0 ? 0 : -1) : this.pending.findIndex((item) => item.handlerId === this.owner);
        // Nothing queued, or the session's owner has not sent its next message yet.
        if (index < 0) return;
        const [item] = this.pending.splice(index, 1);
        try {
          if (!item.message) {
            if (this.owner === item.handlerId) await this.release();
            item.resolve(0);
            continue;
          }
          this.owner = item.handlerId;
          const { bytes, idle } = await this.execute(item.message, item.onData);
          if (idle) this.owner = null;
          item.resolve(bytes);
        } catch (error) {
          // The handler drops its connection on this error, which frees the session.
          item.reject(error as Error);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async release(): Promise<void> {
    try {
      if (!(await this.execute(SYNC)).idle) await this.execute(ROLLBACK);
    } finally {
      this.owner = null;
    }
  }

  /** Runs one message; `idle` when PGlite's answer ends with ReadyForQuery `I`. */
  private async execute(message: Uint8Array, onData?: (data: Uint8Array) => void): Promise<{ bytes: number; idle: boolean }> {
    const chunks: Buffer[] = [];
    await this.db.runExclusive(() =>
      this.db.execProtocolRawStream(message, {
        onRawData: (data) => {
          // A copy: PGlite may reuse the memory behind `data` once this returns.
          chunks.push(Buffer.from(data));
          onData?.(data);
        },
      }),
    );
    const output = Buffer.concat(chunks);
    return { bytes: output.length, idle: lastReadyStatus(output) === IDLE };
  }
}

/** The status byte of the last backend message if that message is ReadyForQuery. */
function lastReadyStatus(output: Buffer): number | undefined {
  let status: number | undefined;
  for (let offset = 0; offset + 5 <= output.length; ) {
    const length = output.readInt32BE(offset + 1);
    if (length < 4) return undefined;
    status = output[offset] === READY_FOR_QUERY && length === 5 ? output[offset + 5] : undefined;
    offset += 1 + length;
  }
  return status;
}

function simpleQuery(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`);
  const message = Buffer.alloc(5 + text.length);
  message.write('Q', 0);
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return message;
}
