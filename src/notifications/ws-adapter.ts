import { Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { IncomingMessage, Server, ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Observable } from 'rxjs';
import type { WebSocket, WebSocketServer } from 'ws';
import { errorBody } from '../common/http-exception.filter.js';

/** How long the body of a request that asked for an upgrade may take to arrive. */
const BODY_TIMEOUT_MS = 30_000;

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Nest's `ws` adapter with three changes. Parley's gateway speaks the contract's `{type}`
 * frames itself, so the adapter's `{event, data}` routing (a second JSON.parse of every frame)
 * is off. A client's protocol error (an oversized or malformed frame) is the client's fault:
 * `ws` already closes that socket with the right code, so it is not logged as a server error,
 * which would let any client flood the logs. And every upgrade request gets an HTTP answer in
 * the API's error shape (`routeUpgrade`, and `ws`'s own refusals), where Nest's adapter
 * dropped the connection of any it did not serve.
 */
export class ParleyWsAdapter extends WsAdapter {
  private readonly adapterLogger = new Logger(ParleyWsAdapter.name);
  private readonly upgradeListeners = new Map<Server, UpgradeListener>();

  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    if (handlers.length > 0) super.bindMessageHandlers(client, handlers, transform);
  }

  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (socket: WebSocket) =>
      socket.on('error', (error) => this.adapterLogger.debug(`Client socket error: ${error.message}`)),
    );
    server.on('error', (error) => this.adapterLogger.error(error));
    // A handshake `ws` refuses itself (no key, another protocol version, a malformed header):
    // answered in the API's error shape, where `ws` would write a text/html page.
    server.on('wsClientError', (error: Error, socket: Duplex) => {
      const refusal = HANDSHAKE_REFUSALS[error.message] ?? { status: 400 };
      answerWithError(socket, refusal.status, error.message, refusal.headers);
    });
    return server;
  }

  // Nest's version installs its own upgrade listener; this one installs routeUpgrade instead.
  protected override ensureHttpServerExists(port: number, httpServer = new Server()): Server {
    if (this.httpServersRegistry.has(port)) return this.httpServersRegistry.get(port);
    this.httpServersRegistry.set(port, httpServer);
    const listener: UpgradeListener = (request, socket, head) => this.routeUpgrade(port, httpServer, request, socket, head);
    httpServer.on('upgrade', listener);
    this.upgradeListeners.set(httpServer, listener);
    return httpServer;
  }

  override async dispose(): Promise<void> {
    for (const [server, listener] of this.upgradeListeners) server.off('upgrade', listener);
    this.upgradeListeners.clear();
    await super.dispose();
  }

  /**
   * Once a server listens for upgrades, Node hands it every request that asks for one, and
   * cannot take one back. A WebSocket handshake at a gateway's path goes to `ws`; one at any
   * other path gets 404. Any other upgrade is answered as the ordinary HTTP/1.1 request it also
   * is, as RFC 9110 lets a server do: Java's HttpClient asks for HTTP/2 (`Upgrade: h2c`) on the
   * first request of every plain-HTTP connection, a POST with its body included, and so does
   * `curl --http2`. The connection then closes: Node has detached its parser from it.
   */
  private routeUpgrade(port: number, httpServer: Server, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node has taken its own error listener off the socket (`ws` adds one for a handshake):
    // without one, a connection reset would be an uncaught error.
    const onError = () => socket.destroy();
    socket.on('error', onError);
    const path = pathOf(request.url);
    if (path === undefined) return answerWithError(socket, 400, 'Malformed request URL');
    if (request.headers.upgrade?.toLowerCase() === 'websocket') {
      const wsServer = this.wsServersRegistry.get(port)?.find((server: { path: string }) => server.path === path);
      if (!wsServer) return answerWithError(socket, 404, `Cannot ${request.method} ${path}`);
      socket.off('error', onError);
      wsServer.handleUpgrade(request, socket, head, (ws: WebSocket) => wsServer.emit('connection', ws, request));
      return;
    }
    const length = Number(request.headers['content-length'] ?? 0);
    if (request.headers['transfer-encoding'] !== undefined || !Number.isSafeInteger(length) || length < 0) {
      return answerWithError(socket, 411, 'A request asking for an upgrade must give its body a Content-Length');
    }
    const response = new ServerResponse(request);
    response.shouldKeepAlive = false;
    response.assignSocket(socket as Socket);
    response.once('finish', () => {
      response.detachSocket(socket as Socket);
      // Whatever more arrives (a body the answer did not need) is dropped, not buffered.
      socket.removeAllListeners('data').end();
    });
    httpServer.emit('request', withBody(request, socket as Socket, head, length), response);
  }
}

/**
 * The request again, with its body readable: Node ends a request it hands over for an upgrade
 * without reading its body, part of which may already be in `head`.
 */
function withBody(upgrade: IncomingMessage, socket: Socket, head: Buffer, length: number): IncomingMessage {
  const request = new IncomingMessage(socket);
  Object.assign(request, {
    method: upgrade.method,
    url: upgrade.url,
    headers: upgrade.headers,
    rawHeaders: upgrade.rawHeaders,
    httpVersion: upgrade.httpVersion,
    httpVersionMajor: upgrade.httpVersionMajor,
    httpVersionMinor: upgrade.httpVersionMinor,
  });
  let missing = length;
  const take = (chunk: Buffer) => {
    const part = chunk.subarray(0, missing);
    missing -= part.length;
    if (part.length > 0) request.push(part);
    if (missing > 0) return;
    socket.off('data', take).setTimeout(0);
    request.complete = true;
    request.push(null);
  };
  take(head);
  // A body that stops arriving must not hold the connection: Node's request timeout no longer
  // watches it.
  if (missing > 0) socket.on('data', take).setTimeout(BODY_TIMEOUT_MS, () => socket.destroy());
  return request;
}

function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'ws://localhost').pathname;
  } catch {
    return undefined;
  }
}

/**
 * `ws` tells why it refused a handshake only in words: the refusals that are not a 400, and
 * the headers that go with them (RFC 6455 4.4: a server names the versions it speaks).
 */
const HANDSHAKE_REFUSALS: Record<string, { status: number; headers?: Record<string, string> }> = {
  'Invalid HTTP method': { status: 405, headers: { Allow: 'GET' } },
  'Missing or invalid Sec-WebSocket-Version header': { status: 400, headers: { 'Sec-WebSocket-Version': '13, 8' } },
};

/** An error in the contract's shape, written straight to a socket no HTTP parser serves any more. */
function answerWithError(socket: Duplex, statusCode: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(errorBody(statusCode, message));
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\n${extra}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
