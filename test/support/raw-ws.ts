import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A WebSocket client on a bare TCP socket, for the clients `ws` cannot play: one that writes
 * control frames of its own, and one that never reads what the server sends (`ws` reads for
 * you). After the handshake the socket is paused: once Node's small read buffer is full,
 * nothing more is read from the kernel, so the server's writes pile up on its side.
 */
export class RawWebSocket {
  /** Set once the TCP connection is gone, however it went (closed, reset, or destroyed here). */
  closed = false;
  private readonly gone: Promise<void>;

  private constructor(readonly socket: Socket) {
    this.gone = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        resolve();
      }),
    );
    // A reset while writing is how a server that gave up on this client shows itself.
    socket.on('error', () => undefined);
  }

  /** Completes the handshake with a bearer token, then stops reading. */
  static async open(wsUrl: string, token: string): Promise<RawWebSocket> {
    const url = new URL(wsUrl);
    const socket = connect(Number(url.port), url.hostname);
    const head = await new Promise<string>((resolve, reject) => {
      let received = Buffer.alloc(0);
      socket.once('error', reject);
      socket.once('connect', () =>
        socket.write(
          `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
            `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
            `Authorization: Bearer ${token}\r\n\r\n`,
        ),
      );
      const onData = (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData).off('error', reject).pause();
        // Frames that came with the answer stay unread, with everything after them.
        socket.unshift(received.subarray(end + 4));
        resolve(received.subarray(0, end).toString());
      };
      socket.on('data', onData);
    });
    if (!head.startsWith('HTTP/1.1 101')) {
      socket.destroy();
      throw new Error(`handshake refused: ${head.split('\r\n')[0]}`);
    }
    return new RawWebSocket(socket);
  }

  /**
   * Writes `frame` over and over as fast as the server takes it, never reading, until the
   * connection is gone or `maxBytes` are written. Returns the bytes written.
   */
  async flood(frame: Buffer, maxBytes: number): Promise<number> {
    const batch = Buffer.concat(Array.from({ length: Math.max(1, Math.floor(65536 / frame.length)) }, () => frame));
    let written = 0;
    while (!this.closed && written < maxBytes) {
      written += batch.length;
      if (this.socket.write(batch)) continue;
      // The kernel's buffers are full: wait until the server reads more, or drops us.
      await Promise.race([new Promise((resolve) => this.socket.once('drain', resolve)), this.gone]);
    }
    return written;
  }

  /** Resolves once the connection is gone; rejects after `timeoutMs`. */
  waitForClose(timeoutMs: number): Promise<void> {
    return Promise.race([
      this.gone,
      new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`the connection was still open after ${timeoutMs} ms`)), timeoutMs)),
    ]);
  }

  /**
   * Starts reading again and collects everything until the connection ends, as the frames
   * the server sent (those it got out before the end).
   */
  async readToEnd(timeoutMs: number): Promise<ServerFrameOnWire[]> {
    const chunks: Buffer[] = [];
    this.socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    this.socket.resume();
    await this.waitForClose(timeoutMs);
    return parseFrames(Buffer.concat(chunks));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A frame as a client sends it: FIN set, masked (RFC 6455 5.3), a payload of at most 125 bytes. */
export function maskedFrame(opcode: number, payload: Buffer = Buffer.alloc(0), { final = true } = {}): Buffer {
  if (payload.length > 125) throw new Error('only short frames are built here');
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([(final ? 0x80 : 0) | opcode, 0x80 | payload.length]), mask, masked]);
}

export const Opcode = { Continuation: 0x0, Text: 0x1, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;

export interface ServerFrameOnWire {
  opcode: number;
  payload: Buffer;
}

/** Splits the bytes a server sent into frames (unmasked); a frame cut off at the end is left out. */
export function parseFrames(data: Buffer): ServerFrameOnWire[] {
  const frames: ServerFrameOnWire[] = [];
  let at = 0;
  while (at + 2 <= data.length) {
    let length = data[at + 1] & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (start + 2 > data.length) break;
      length = data.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      if (start + 8 > data.length) break;
      length = Number(data.readBigUInt64BE(start));
      start += 8;
    }
    if (start + length > data.length) break;
    frames.push({ opcode: data[at] & 0x0f, payload: data.subarray(start, start + length) });
    at = start + length;
  }
  return frames;
}

/** The code of a close frame's payload. */
export const closeCodeOf = (frame: ServerFrameOnWire) => (frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005);
