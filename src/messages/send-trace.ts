import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createWriteStream, type WriteStream } from 'node:fs';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';

/**
 * One send's way through the server, in ms on this process's `performance.now()` clock:
 * the request arrived, its send (into `conversationId`) joined the queue (after parsing, authentication and
 * validation), its statement was cut (with `batchSize` sends, `batchesRunning` statements
 * running counting it), answered by PostgreSQL, its frames handed to the notifier, and the
 * reply written to the socket.
 */
export interface SendTimeline {
  arrived: number;
  conversationId?: string;
  submitted?: number;
  batch?: number;
  batchSize?: number;
  batchesRunning?: number;
  cut?: number;
  answered?: number;
  framesOut?: number;
  replied?: number;
  status?: number;
}

const SEND_ROUTE = '/api/v1/messages';

/**
 * The per-send trace that SEND_TRACE_FILE turns on: where the time of a send goes, as a
 * timeline rather than a CPU profile (`npm run bench -- --trace` summarises it). Off, it
 * costs a property read per send.
 */
@Injectable()
export class SendTrace implements OnApplicationShutdown {
  private readonly timelines = new WeakMap<FastifyRequest, SendTimeline>();
  private readonly out: WriteStream | undefined;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.out = config.sendTraceFile ? createWriteStream(config.sendTraceFile, { flags: 'a' }) : undefined;
  }

  /** Starts a timeline when a send arrives and writes it out once its reply has gone. */
  attach(fastify: FastifyInstance): void {
    if (!this.out) return;
    const out = this.out;
    fastify.addHook('onRequest', (request, _reply, done) => {
      if (request.method === 'POST' && request.url === SEND_ROUTE) this.timelines.set(request, { arrived: performance.now() });
      done();
    });
    fastify.addHook('onResponse', (request, reply, done) => {
      const timeline = this.timelines.get(request);
      if (timeline) {
        timeline.replied = performance.now();
        timeline.status = reply.statusCode;
        out.write(`${JSON.stringify(timeline)}\n`);
      }
      done();
    });
  }

  /** The timeline of a send's request, while tracing. */
  of(request: FastifyRequest): SendTimeline | undefined {
    return this.out ? this.timelines.get(request) : undefined;
  }

  onApplicationShutdown(): Promise<void> {
    return new Promise((resolve) => (this.out ? this.out.end(resolve) : resolve()));
  }
}
