/** What the connection needs to hear from a socket. */
export interface SocketHandlers {
  open(): void;
  message(data: string): void;
  /**
   * The socket closed, or never opened. `handshakeStatus` is the HTTP status of a refused
   * handshake, where the platform tells it (Node's `ws` does; browsers do not).
   */
  close(code: number, reason: string, handshakeStatus?: number): void;
}

export interface SocketHandle {
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/**
 * Opens WebSockets. `auth: 'bearer'` sends the access token in an `Authorization` header
 * (Node, servers, mobile); `'ticket'` first asks `POST /api/v1/auth/ws-ticket` for a ticket and
 * puts it in the URL (browsers, which cannot set headers on a WebSocket).
 */
export interface SocketOpener {
  readonly auth: 'bearer' | 'ticket';
  open(url: string, bearerToken: string | undefined, handlers: SocketHandlers): SocketHandle;
}

/** The parts of the WHATWG WebSocket this library uses. */
interface WhatwgWebSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
}

type WhatwgWebSocketConstructor = new (url: string) => WhatwgWebSocket;

/** A WebSocket as browsers (and Node 22+) have it: authenticated by a ticket in the URL. */
export function browserSocket(WebSocketImpl?: WhatwgWebSocketConstructor): SocketOpener {
  const Impl = WebSocketImpl ?? (globalThis as unknown as { WebSocket?: WhatwgWebSocketConstructor }).WebSocket;
  if (!Impl) {
    throw new Error('@parley/client: no WebSocket here. In Node 20, import ParleyClient from "@parley/client/node" (it uses the ws package).');
  }
  return {
    auth: 'ticket',
    open(url, _bearer, handlers) {
      const socket = new Impl(url);
      socket.addEventListener('open', () => handlers.open());
      socket.addEventListener('message', (event) => {
        if (typeof event.data === 'string') handlers.message(event.data);
      });
      socket.addEventListener('close', (event) => handlers.close(event.code, event.reason));
      return {
        send: (data) => {
          if (socket.readyState === 1) socket.send(data);
        },
        close: (code, reason) => socket.close(code, reason),
      };
    },
  };
}
