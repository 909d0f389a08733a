import { connect, type Socket } from 'node:net';

/** One backend message: its type letter and its body. */
export interface BackendMessage {
  type: string;
  body: Buffer;
}

/**
 * A bare PostgreSQL wire-protocol client, for tests that must control exactly which messages
 * reach the server and when (a driver always sends a whole batch at once).
 */
export class WireClient {
  private readonly received: BackendMessage[] = [];
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (data) => {
      this.buffer = Buffer.concat([this.buffer, data]);
      while (this.buffer.length >= 5) {
        const length = this.buffer.readInt32BE(1);
        if (this.buffer.length < 1 + length) break;
        this.received.push({ type: String.fromCharCode(this.buffer[0]), body: this.buffer.subarray(5, 1 + length) });
        this.buffer = this.buffer.subarray(1 + length);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Connects and completes the startup exchange (trust authentication). */
  static async open(port: number, user = 'postgres', database = 'postgres'): Promise<WireClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new WireClient(socket);
    const body = Buffer.concat([int32(196608), cstring('user'), cstring(user), cstring('database'), cstring(database), Buffer.from([0])]);
    socket.write(Buffer.concat([int32(body.length + 4), body]));
    await client.readUntil('Z');
    return client;
  }

  send(...messages: Buffer[]): void {
    this.socket.write(Buffer.concat(messages));
  }

  /** Everything received up to and including the next message of `type`. */
  async readUntil(type: string, timeoutMs = 5000): Promise<BackendMessage[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((message) => message.type === type);
      if (index >= 0) return this.received.splice(0, index + 1);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no '${type}' within ${timeoutMs} ms; have ${this.received.map((m) => m.type).join('')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Frontend messages. Statements and portals are the unnamed ones, as drivers use them. */
export const wire = {
  query: (sql: string) => message('Q', cstring(sql)),
  parse: (sql: string) => message('P', cstring(''), cstring(sql), int16(0)),
  bind: (...values: string[]) =>
    message('B', cstring(''), cstring(''), int16(0), int16(values.length), ...values.flatMap((v) => [int32(Buffer.byteLength(v)), Buffer.from(v)]), int16(0)),
  execute: () => message('E', cstring(''), int32(0)),
  sync: () => message('S'),
};

/** The text values of the DataRow messages among `messages`. */
export function rows(messages: BackendMessage[]): string[][] {
  return messages
    .filter((m) => m.type === 'D')
    .map((m) => {
      const values: string[] = [];
      for (let i = 0, offset = 2; i < m.body.readInt16BE(0); i++) {
        const length = m.body.readInt32BE(offset);
        values.push(m.body.subarray(offset + 4, offset + 4 + length).toString());
        offset += 4 + length;
      }
      return values;
    });
}

/** The messages of the ErrorResponse messages among `messages`. */
export function errors(messages: BackendMessage[]): string[] {
  return messages.filter((m) => m.type === 'E').map((m) => /\0M([^\0]*)/.exec(m.body.toString())?.[1] ?? m.body.toString());
}

function message(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function cstring(value: string): Buffer {
  return Buffer.from(`${value}\0`);
}

function int16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeInt16BE(value);
  return buffer;
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}
