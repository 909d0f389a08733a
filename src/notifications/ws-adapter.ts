import { Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Nest's `ws` adapter with two changes. Parley's gateway speaks the contract's `{type}` frames
 * itself, so the adapter's `{event, data}` routing (a second JSON.parse of every frame) is off.
 * And a client's protocol error (an oversized or malformed frame) is the client's fault: `ws`
 * already closes that socket with the right code, so it is not logged as a server error, which
 * would let any client flood the logs.
 */
export class ParleyWsAdapter extends WsAdapter {
  private readonly adapterLogger = new Logger(ParleyWsAdapter.name);

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
    return server;
  }
}
