import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { errorBody } from '../common/http-exception.filter.js';
import { StartupError } from '../common/startup-error.js';
import { bearerMatches, METRICS_TOKEN_REQUIRED } from './metrics-access.js';
import { Metrics } from './metrics.service.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * With METRICS_PORT, a second HTTP listener that serves `GET /metrics` and nothing else, on
 * METRICS_HOST (loopback by default), so that the public port never shows it. It needs the
 * bearer token too where METRICS_TOKEN is set. It opens with the application and closes on
 * shutdown. Without METRICS_PORT it only says, once at start, how metrics are reached.
 */
@Injectable()
export class MetricsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server: Server | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  /** Where the listener is bound, if there is one (its port, when METRICS_PORT is 0). */
  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { metricsPort, metricsHost, metricsToken } = this.config;
    if (metricsPort === undefined) {
      this.logger.log(
        metricsToken
          ? 'Metrics at /metrics need Authorization: Bearer <METRICS_TOKEN>'
          : 'Metrics are off: set METRICS_TOKEN to serve /metrics to a bearer of that token, or METRICS_PORT to serve it on a separate listener (bound to METRICS_HOST, 127.0.0.1 by default)',
      );
      return;
    }
    const server = createServer((request, response) => void this.answer(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new StartupError(`cannot listen for metrics on ${metricsHost}:${metricsPort} (METRICS_HOST, METRICS_PORT): ${error.code ?? error.message}`)),
      );
      server.listen(metricsPort, metricsHost, () => resolve());
    });
    this.server = server;
    const { address, port } = this.address()!;
    const host = address.includes(':') ? `[${address}]` : address;
    this.logger.log(`Metrics at http://${host}:${port}/metrics${metricsToken ? ' (Authorization: Bearer <METRICS_TOKEN>)' : ''}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // A scraper keeps its connection alive between scrapes: close it rather than wait for it.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      return reply(response, 404, errorBody(404, `Cannot ${request.method} ${path}`));
    }
    const token = this.config.metricsToken;
    if (token !== undefined && !bearerMatches(request.headers.authorization, token)) {
      response.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      return reply(response, 401, errorBody(401, METRICS_TOKEN_REQUIRED));
    }
    try {
      const text = await this.metrics.render();
      response.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
      response.end(text);
    } catch (error) {
      this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      reply(response, 500, errorBody(500, 'Internal server error'));
    }
  }
}

function reply(response: ServerResponse, status: number, body: object): void {
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  response.end(JSON.stringify(body));
}
