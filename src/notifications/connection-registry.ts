import { Inject, Injectable, Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.service.js';
import { CloseCode, type ServerFrame } from './frames.js';

/** This instance's open sockets, by user: a user may have many tabs and devices. */
@Injectable()
export class ConnectionRegistry {
  private readonly logger = new Logger(ConnectionRegistry.name);
  private readonly socketsByUser = new Map<string, Set<WebSocket>>();
  private readonly userBySocket = new WeakMap<WebSocket, string>();
  /** When each user was last disconnected (deactivated), for handshakes still in flight. */
  private readonly disconnectedAt = new Map<string, number>();
  private count = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {
    metrics.sampleConnectionsWith(() => this.count);
  }

  get size(): number {
    return this.count;
  }

  add(userId: string, socket: WebSocket): void {
    let sockets = this.socketsByUser.get(userId);
    if (!sockets) this.socketsByUser.set(userId, (sockets = new Set()));
    sockets.add(socket);
    this.userBySocket.set(socket, userId);
    this.count++;
  }

  remove(socket: WebSocket): void {
    const userId = this.userBySocket.get(socket);
    const sockets = userId === undefined ? undefined : this.socketsByUser.get(userId);
    if (!sockets?.delete(socket)) return;
    this.count--;
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
    let sent = 0;
    for (const userId of userIds) sent += this.deliverSerialized(userId, data);
    return sent;
  }

  /** Sends an already serialised frame to every local socket of one user. */
  deliverSerialized(userId: string, data: string | Buffer): number {
    const sockets = this.socketsByUser.get(userId);
    if (!sockets) return 0;
    let sent = 0;
    for (const socket of sockets) {
      if (this.send(socket, data)) sent++;
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
    const now = performance.now();
    for (const [id, at] of this.disconnectedAt) if (now - at > DISCONNECT_MEMORY_MS) this.disconnectedAt.delete(id);
    this.disconnectedAt.set(userId, now);
    for (const socket of this.socketsByUser.get(userId) ?? []) socket.close(code, reason);
  }

  /**
   * Whether `userId` was disconnected after `since` (a `performance.now()` time): a handshake
   * that read the user as active before a deactivation, and registers its socket only after
   * the deactivation closed the user's sockets, must not survive it.
   */
  disconnectedSince(userId: string, since: number): boolean {
    return (this.disconnectedAt.get(userId) ?? -Infinity) >= since;
  }

  closeAll(code: number, reason: string): void {
    for (const sockets of this.socketsByUser.values()) {
      for (const socket of sockets) socket.close(code, reason);
    }
  }

  private send(socket: WebSocket, data: string | Buffer): boolean {
    if (socket.readyState !== socket.OPEN) return false;
    // A client that stops reading would make us buffer without bound: drop it instead.
    // It reconnects and catches up by seq like any other client that missed frames.
    if (socket.bufferedAmount > this.config.wsMaxBufferedBytes) {
      this.dropSlowConsumer(socket);
      return false;
    }
    socket.send(data, TEXT_FRAME);
    return true;
  }

  /**
   * Stops sending at once and frees the buffer soon: the close frame queues behind data the
   * client is not reading, so the socket is destroyed after a short grace period.
   */
  private dropSlowConsumer(socket: WebSocket): void {
    this.logger.warn(`Dropping a slow consumer (${socket.bufferedAmount} bytes unsent)`);
    this.remove(socket);
    socket.close(CloseCode.SlowConsumer, 'slow consumer');
    setTimeout(() => socket.terminate(), SLOW_CONSUMER_GRACE_MS).unref();
  }
}

const SLOW_CONSUMER_GRACE_MS = 1000;

/** Longer than any handshake takes (its database read times out after 5 s). */
const DISCONNECT_MEMORY_MS = 60_000;

/** Buffers are sent as text frames too: the protocol is JSON text. */
const TEXT_FRAME = { binary: false } as const;

/**
 * A frame as UTF-8 bytes, made once however many sockets it goes to: `ws` sends a Buffer as it
 * is, where a string would be encoded again for every socket.
 */
function encodeFrame(frame: ServerFrame): Buffer {
  return Buffer.from(JSON.stringify(frame));
}
