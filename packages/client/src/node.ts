import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import WebSocket from 'ws';
import { ParleyClient as BaseClient, type ParleyClientOptions } from './client.js';
import type { SocketOpener } from './socket.js';
import type { ConversationCursor, SyncStore } from './store.js';

export * from './index.js';

/**
 * WebSockets through the `ws` package, authenticated with `Authorization: Bearer`: Node 20
 * has no WebSocket of its own, and headers spare the ticket round trip.
 */
export function wsSocket(options: { origin?: string } = {}): SocketOpener {
  return {
    auth: 'bearer',
    open(url, bearerToken, handlers) {
      const socket = new WebSocket(url, {
        headers: bearerToken ? { Authorization: `Bearer ${bearerToken}` } : {},
        ...(options.origin ? { origin: options.origin } : {}),
      });
      let handshakeStatus: number | undefined;
      let closed = false;
      const close = (code: number, reason: string) => {
        if (closed) return;
        closed = true;
        handlers.close(code, reason, handshakeStatus);
      };
      socket.on('open', () => handlers.open());
      socket.on('message', (data, isBinary) => {
        if (!isBinary) handlers.message(data.toString());
      });
      socket.on('unexpected-response', (_request, response) => {
        // Refused (401 for a bad token, 429 for too many sockets, 503): the status says which.
        handshakeStatus = response.statusCode;
        response.resume();
        socket.terminate();
      });
      // Errors are followed by a close; without a listener they would end the process.
      socket.on('error', () => undefined);
      socket.on('close', (code, reason) => close(code, reason.toString()));
      return {
        send: (data) => {
          if (socket.readyState === WebSocket.OPEN) socket.send(data);
        },
        close: (code, reason) => {
          if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
          else socket.close(code, reason);
        },
      };
    },
  };
}

/** The client for Node: its socket is `ws` with a bearer token unless told otherwise. */
export class ParleyClient extends BaseClient {
  constructor(options: ParleyClientOptions) {
    super({ socket: wsSocket(), ...options });
  }
}

/**
 * Keeps the cursors in a JSON file, so that a restarted process catches up from where it
 * stopped. Written whole on each change, through a temporary file and a rename, so a crash
 * never leaves half a file.
 */
export class FileStore implements SyncStore {
  private data: Record<string, Record<string, ConversationCursor>> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  async load(userId: string): Promise<Record<string, ConversationCursor> | undefined> {
    const data = await this.read();
    return data[userId] ? structuredClone(data[userId]) : undefined;
  }

  async saveAll(userId: string, cursors: Record<string, ConversationCursor>): Promise<void> {
    (await this.read())[userId] = structuredClone(cursors);
    return this.write();
  }

  async save(userId: string, conversationId: string, cursor: ConversationCursor): Promise<void> {
    const data = await this.read();
    (data[userId] ??= {})[conversationId] = structuredClone(cursor);
    return this.write();
  }

  async remove(userId: string, conversationId: string): Promise<void> {
    delete (await this.read())[userId]?.[conversationId];
    return this.write();
  }

  private async read(): Promise<Record<string, Record<string, ConversationCursor>>> {
    if (!this.data) {
      try {
        this.data = JSON.parse(await readFile(this.file, 'utf8')) as Record<string, Record<string, ConversationCursor>>;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        this.data = {};
      }
    }
    return this.data;
  }

  private write(): Promise<void> {
    const text = JSON.stringify(this.data);
    this.writing = this.writing.catch(() => undefined).then(async () => {
      await mkdir(path.dirname(path.resolve(this.file)), { recursive: true });
      const temporary = `${this.file}.${process.pid}.tmp`;
      await writeFile(temporary, text);
      await rename(temporary, this.file);
    });
    return this.writing;
  }
}
