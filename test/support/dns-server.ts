import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

/**
 * A DNS server on 127.0.0.1 for tests (RFC 1035, UDP): it answers A queries for the names in
 * `a` (and any other question with no records), and never answers a name in `silent`, as a
 * DNS server that an attacker runs, or one that is down, would not.
 */
export class TestDnsServer {
  /** Queries received, by name. */
  readonly asked = new Map<string, number>();
  private readonly socket: Socket = createSocket('udp4');

  constructor(
    private readonly a: Record<string, string>,
    private readonly silent: (name: string) => boolean,
  ) {
    this.socket.on('message', (query, from) => this.answer(query, from.address, from.port));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.socket.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private answer(query: Buffer, address: string, port: number): void {
    // The question: length-prefixed labels from byte 12 to a zero byte, then type and class.
    const labels: string[] = [];
    let at = 12;
    while (query[at] !== 0) {
      labels.push(query.subarray(at + 1, at + 1 + query[at]).toString('ascii'));
      at += 1 + query[at];
    }
    const questionEnd = at + 5;
    const name = labels.join('.').toLowerCase();
    const type = query.readUInt16BE(at + 1);
    this.asked.set(name, (this.asked.get(name) ?? 0) + 1);
    if (this.silent(name)) return;
    const ipv4 = type === 1 ? this.a[name] : undefined;
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // the query's id
    header.writeUInt16BE(0x8180, 2); // a response, recursion desired and available, no error
    header.writeUInt16BE(1, 4); // the question, echoed
    header.writeUInt16BE(ipv4 ? 1 : 0, 6);
    const parts = [header, query.subarray(12, questionEnd)];
    if (ipv4) {
      const record = Buffer.alloc(16);
      record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      record.writeUInt16BE(1, 2); // A
      record.writeUInt16BE(1, 4); // IN
      record.writeUInt32BE(60, 6); // TTL
      record.writeUInt16BE(4, 10);
      ipv4.split('.').forEach((byte, i) => record.writeUInt8(Number(byte), 12 + i));
      parts.push(record);
    }
    this.socket.send(Buffer.concat(parts), port, address);
  }
}
