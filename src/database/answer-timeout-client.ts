import { Logger } from '@nestjs/common';
import type { Socket } from 'node:net';
import pg from 'pg';

const logger = new Logger('Database');

export interface AnswerTimeoutClientConfig extends pg.ClientConfig {
  /** How long a statement may wait for PostgreSQL's answer before the connection is closed (0: no limit). */
  answerTimeoutMs?: number;
}

/**
 * A `pg` client that closes its connection once a statement has waited `answerTimeoutMs` with
 * nothing heard from PostgreSQL. When the server hangs or the network to it drops packets,
 * PostgreSQL's own statement_timeout never reaches the client, and a TCP connection waits for
 * the kernel's retransmission timeout (a quarter of an hour on Linux), with the request, and
 * every send batched behind it, waiting too. Closing it fails the statement with "Connection
 * terminated" (a 503 for the request), and the pool replaces the connection. `pg`'s own
 * query_timeout fails the statement but keeps the connection, still busy with it.
 *
 * The limit is the socket's idle timeout, armed for the connection's life but acted on only
 * while a statement is outstanding: an idle pooled connection is silent by design.
 */
export class AnswerTimeoutClient extends pg.Client {
  /** Lifted (0) by migrations for their connection, which may wait however long they must. */
  answerTimeoutMs: number;

  constructor(config: AnswerTimeoutClientConfig) {
    super(config);
    this.answerTimeoutMs = config.answerTimeoutMs ?? 0;
    if (this.answerTimeoutMs > 0) this.watchForSilence(this.answerTimeoutMs);
  }

  private watchForSilence(timeoutMs: number): void {
    // pg's connection makes its socket when the client is made (a TLS one later wraps it).
    const socket = (this as unknown as { connection: { stream: Socket } }).connection.stream;
    socket.setTimeout(timeoutMs);
    socket.on('timeout', () => {
      // pg sets readyForQuery once PostgreSQL has answered everything it was sent.
      const waiting = !(this as unknown as { readyForQuery: boolean }).readyForQuery;
      if (!waiting || this.answerTimeoutMs === 0) return;
      logger.warn(`No answer from PostgreSQL for ${this.answerTimeoutMs} ms: closing the connection`);
      socket.destroy();
    });
  }
}

/** Runs `work` with the connection's answer timeout lifted, if it has one. */
export async function withoutAnswerTimeout<T>(connection: unknown, work: () => Promise<T>): Promise<T> {
  if (!(connection instanceof AnswerTimeoutClient)) return work();
  const timeoutMs = connection.answerTimeoutMs;
  connection.answerTimeoutMs = 0;
  try {
    return await work();
  } finally {
    connection.answerTimeoutMs = timeoutMs;
  }
}
