import { Inject, Injectable, Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.service.js';
import { DeliveredOnce } from './delivered-once.js';
import { CloseCode, type ServerFrame } from './frames.js';

/** Told of each socket that becomes ready (was sent `ready`) and of each ready socket that goes. */
export interface SocketListener {
  socketReady(userId: string): void;
  socketGone(userId: string): void;
}

/** This instance's open sockets, by user: a user may have many tabs and devices. */
@Injectable()
export class ConnectionRegistry {
  private readonly logger = new Logger(ConnectionRegistry.name);
  private readonly socketsByUser = new Map<string, Set<WebSocket>>();
  private readonly userBySocket = new WeakMap<WebSocket, string>();
  /** The session each socket's token belongs to (it moves with an `auth` frame). */
  private readonly sessionBySocket = new WeakMap<WebSocket, string>();
  /**
   * Sockets registered but not yet sent `ready`: no notification goes to them until then. What
   * they miss meanwhile was published before `ready`, which the client's catch-up covers.
   */
  private readonly awaitingReady = new WeakSet<WebSocket>();
  /**
   * When each user (by id) or session (by `session:<id>`) was last disconnected, for
   * handshakes still in flight.
   */
  private readonly disconnectedAt = new Map<string, number>();
  private count = 0;
  private readonly listeners: SocketListener[] = [];
  private readonly deliveredOnce = new DeliveredOnce();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {
    metrics.sampleConnectionsWith(() => this.count);
  }

  get size(): number {
    return this.count;
  }

  add(userId: string, socket: WebSocket, sessionId: string): void {
    let sockets = this.socketsByUser.get(userId);
    if (!sockets) this.socketsByUser.set(userId, (sockets = new Set()));
    sockets.add(socket);
    this.userBySocket.set(socket, userId);
    this.sessionBySocket.set(socket, sessionId);
    this.awaitingReady.add(socket);
    this.count++;
  }

  /** Sends `ready`, after which the socket receives notifications. */
  ready(socket: WebSocket, frame: ServerFrame): void {
    const userId = this.userBySocket.get(socket);
    const registered = userId !== undefined && this.socketsByUser.get(userId)?.has(socket) === true;
    if (!this.awaitingReady.delete(socket) || !registered) return;
    this.sendTo(socket, frame);
    for (const listener of this.listeners) listener.socketReady(userId);
  }

  /**
   * `listener` hears of each socket that is sent `ready` and of each such socket that goes,
   * however it goes (presence counts them). A socket that goes before `ready` is heard of by
   * neither.
   */
  addListener(listener: SocketListener): void {
    this.listeners.push(listener);
  }

  /** The socket was renewed with a token of another session of its user. */
  moveToSession(socket: WebSocket, sessionId: string): void {
    if (this.userBySocket.has(socket)) this.sessionBySocket.set(socket, sessionId);
  }

  remove(socket: WebSocket): void {
    const userId = this.userBySocket.get(socket);
    const sockets = userId === undefined ? undefined : this.socketsByUser.get(userId);
    if (!sockets?.delete(socket)) return;
    this.count--;
    if (!this.awaitingReady.has(socket)) for (const listener of this.listeners) listener.socketGone(userId!);
    if (sockets.size > 0) return;
    this.socketsByUser.delete(userId!);
    this.onUserGone?.(userId!);
  }

  /**
   * Told when a user's last socket here goes, however it went (closed, or dropped as a slow
   * consumer). A callback rather than an injected Notifier: the Notifier depends on this class.
   */
  onUserGone?: (userId: string) => void;

  /** Open sockets of one user on this instance. */
  countFor(userId: string): number {
    return this.socketsByUser.get(userId)?.size ?? 0;
  }

  /** Sends one frame to every local socket of these users, serialising and encoding it once. */
  deliver(userIds: readonly string[], frame: ServerFrame): number {
    const data = encodeFrame(frame);
    const newMessageId = newMessageOf(frame);
    let sent = 0;
    for (const userId of userIds) sent += this.deliverSerialized(userId, data, newMessageId);
    return sent;
  }

  /**
   * Sends an already serialised frame to every local socket of one user. With `newMessageId`
   * (the frame is that message's `message.created`), only the first time for this user: the
   * outbox relay may publish it again (DeliveredOnce).
   */
  deliverSerialized(userId: string, data: string | Buffer, newMessageId?: string): number {
    const sockets = this.socketsByUser.get(userId);
    if (!sockets) return 0;
    if (newMessageId !== undefined && !this.deliveredOnce.first(userId, newMessageId)) return 0;
    let sent = 0;
    for (const socket of sockets) {
      if (!this.awaitingReady.has(socket) && this.send(socket, data)) sent++;
    }
    if (sent > 0) this.metrics.notificationsSent.inc(sent);
    return sent;
  }

  /** Sends a frame to every local socket. */
  broadcast(frame: ServerFrame): void {
    const data = encodeFrame(frame);
    for (const userId of this.socketsByUser.keys()) this.deliverSerialized(userId, data);
  }

  sendTo(socket: WebSocket, frame: ServerFrame): void {
    this.send(socket, JSON.stringify(frame));
  }

  disconnect(userId: string, code: number, reason: string): void {
    this.rememberDisconnect(userId);
    for (const socket of this.socketsByUser.get(userId) ?? []) socket.close(code, reason);
  }

  /** Closes the local sockets of one session of `userId`. */
  disconnectSession(userId: string, sessionId: string, code: number, reason: string): void {
    this.rememberDisconnect(`session:${sessionId}`);
    for (const socket of this.socketsByUser.get(userId) ?? []) {
      if (this.sessionBySocket.get(socket) === sessionId) socket.close(code, reason);
    }
  }

  /**
   * Whether `userId`, or its session `sessionId`, was disconnected after `since` (a
   * `performance.now()` time): a handshake that read the user and session as live before a
   * deactivation or logout, and registers its socket only after that closed the sockets, must
   * not survive it.
   */
  disconnectedSince(userId: string, sessionId: string, since: number): boolean {
    const at = Math.max(this.disconnectedAt.get(userId) ?? -Infinity, this.disconnectedAt.get(`session:${sessionId}`) ?? -Infinity);
    return at >= since;
  }

  private rememberDisconnect(key: string): void {
    const now = performance.now();
    for (const [id, at] of this.disconnectedAt) if (now - at > DISCONNECT_MEMORY_MS) this.disconnectedAt.delete(id);
    this.disconnectedAt.set(key, now);
  }

  closeAll(code: number, reason: string): void {
    for (const sockets of this.socketsByUser.values()) {
      for (const socket of sockets) socket.close(code, reason);
    }
  }

  /** Answers a client's ping control frame with its data, as RFC 6455 asks. */
  pong(socket: WebSocket, data: Buffer): void {
    if (this.writable(socket)) socket.pong(data);
  }

  /** The heartbeat's ping, which a live client answers with a pong. */
  ping(socket: WebSocket): void {
    if (this.writable(socket)) socket.ping();
  }

  /**
   * Closes a socket that broke a limit, with `code`, and reads nothing more from it. The close
   * frame queues behind whatever the client has not read, so `ws` destroys the socket after
   * the gateway's close grace (its `closeTimeout`), which frees its buffers.
   */
  drop(socket: WebSocket, code: number, reason: string): void {
    this.remove(socket);
    socket.close(code, reason);
    socket.pause();
  }

  private send(socket: WebSocket, data: string | Buffer): boolean {
    if (!this.writable(socket)) return false;
    socket.send(data, TEXT_FRAME);
    return true;
  }

  /**
   * Whether the server may write to this socket now. Every write it makes goes through here:
   * notifications, JSON pongs, control-frame pongs, heartbeat pings. A client that stops
   * reading would make us buffer without bound: past WS_MAX_BUFFERED_BYTES it is dropped
   * instead, and reconnects and catches up by seq like any other client that missed frames.
   */
  private writable(socket: WebSocket): boolean {
    if (socket.readyState !== socket.OPEN) return false;
    // `bufferedAmount` is everything queued for this socket in the process: `ws`'s queue and
    // the net socket's, whoever wrote it.
    if (socket.bufferedAmount <= this.config.wsMaxBufferedBytes) return true;
    this.logger.warn(`Dropping a slow consumer (${socket.bufferedAmount} bytes unsent)`);
    this.drop(socket, CloseCode.SlowConsumer, 'slow consumer');
    return false;
  }
}

/** Longer than any handshake takes (its database read times out after 5 s). */
const DISCONNECT_MEMORY_MS = 60_000;

/** Buffers are sent as text frames too: the protocol is JSON text. */
const TEXT_FRAME = { binary: false } as const;

/** The id of the message whose `message.created` this frame is, if it is one. */
export function newMessageOf(frame: ServerFrame): string | undefined {
  return frame.type === 'message.created' ? frame.id : undefined;
}

/**
 * A frame as UTF-8 bytes, made once however many sockets it goes to: `ws` sends a Buffer as it
 * is, where a string would be encoded again for every socket.
 */
function encodeFrame(frame: ServerFrame): Buffer {
  return Buffer.from(JSON.stringify(frame));
}
