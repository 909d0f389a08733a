import type { IncomingMessage } from 'node:http';
import { BeforeApplicationShutdown, Inject, Logger } from '@nestjs/common';
import {
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import type { AuthUser, Caller } from '../auth/auth-user.js';
import { bearerToken } from '../auth/auth.guard.js';
import { errorBody } from '../common/http-exception.filter.js';
import { isDatabaseUnavailable } from '../common/pg-errors.js';
import { TokenService } from '../auth/token.service.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { LastSeenRecorder } from '../users/last-seen.recorder.js';
import { ConnectionRegistry } from './connection-registry.js';
import { CloseCode } from './frames.js';
import { Notifier } from './notifier.js';

const WATCH_TIMEOUT_MS = 2000;
/** How long a socket closed for flooding may take to finish the close handshake. */
const FLOOD_CLOSE_GRACE_MS = 1000;

/** A handshake's request once authenticated, and when that authentication began. */
type AuthenticatedRequest = IncomingMessage & { parleyUser?: AuthUser; parleyAuthStartedAt?: number };
type VerifyCallback = (result: boolean, code?: number, message?: string, headers?: Record<string, string>) => void;

interface SocketState {
  /** Who the handshake authenticated, at which token version. */
  caller: Caller;
  alive: boolean;
  /** Frames received in the current one-second window. */
  frames: number;
  windowStart: number;
}

/**
 * `/ws`: authenticates the handshake (bearer header or single-use ticket, and Origin when
 * ALLOWED_ORIGINS is set), registers the socket under its user, answers pings, and closes
 * sockets that send anything but small JSON text frames. It never reads the database on the
 * delivery path: services publish ids through the Notifier, which lands in ConnectionRegistry.
 */
@WebSocketGateway({ path: '/ws' })
export class NotificationsGateway
  implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, BeforeApplicationShutdown
{
  private readonly logger = new Logger(NotificationsGateway.name);
  private readonly states = new WeakMap<WebSocket, SocketState>();
  private heartbeat?: NodeJS.Timeout;
  private recheck?: NodeJS.Timeout;
  private rechecking = false;
  private server?: WebSocketServer;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tokens: TokenService,
    private readonly lastSeen: LastSeenRecorder,
    private readonly connections: ConnectionRegistry,
    private readonly notifier: Notifier,
  ) {
    connections.onUserGone = (userId) => notifier.unwatch(userId);
    notifier.onRestored = () => void this.closeRevokedSockets();
  }

  afterInit(server: WebSocketServer): void {
    // `ws` reads these per handshake, so they can be set here, where the configuration is known.
    server.options.maxPayload = this.config.wsMaxFrameBytes;
    server.options.verifyClient = (info, done) => void this.verifyHandshake(info, done);
    this.server = server;
    this.heartbeat = setInterval(() => this.checkLiveness(server), this.config.wsHeartbeatMs);
    this.heartbeat.unref();
    this.recheck = setInterval(() => void this.closeRevokedSockets(), this.config.wsRecheckMs);
    this.recheck.unref();
  }

  async handleConnection(socket: WebSocket, request: AuthenticatedRequest): Promise<void> {
    const user = request.parleyUser;
    if (!user) {
      socket.close(CloseCode.Unauthorized, 'unauthorized');
      return;
    }
    this.states.set(socket, { caller: { id: user.id, tokenVersion: user.tokenVersion }, alive: true, frames: 0, windowStart: Date.now() });
    socket.on('pong', () => this.markAlive(socket));
    socket.on('message', (data, isBinary) => this.handleFrame(socket, data, isBinary));
    // Registered (and, across instances, subscribed) before `ready` is sent: a client that has
    // seen `ready` misses no notification published after it.
    this.connections.add(user.id, socket);
    // Deactivated while this handshake was in flight: its read of the user may predate that.
    if (this.connections.disconnectedSince(user.id, request.parleyAuthStartedAt ?? 0)) {
      socket.close(CloseCode.Unauthorized, 'deactivated');
      return;
    }
    await this.watch(user.id);
    this.connections.sendTo(socket, { type: 'ready', userId: user.id });
    this.lastSeen.seen(user.id);
  }

  handleDisconnect(socket: WebSocket): void {
    this.connections.remove(socket);
  }

  /**
   * A transport that cannot subscribe now (Redis down) must not hold the client: it gets
   * `ready`, and a `resync` frame once the transport is back.
   */
  private async watch(userId: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, WATCH_TIMEOUT_MS)));
    await Promise.race([this.notifier.watch(userId).catch(() => undefined), timeout]);
    clearTimeout(timer);
  }

  /**
   * Every WS_RECHECK_MS, and when Redis is back after an outage: each socket's user is read
   * again and the sockets of users no longer active at their token version are closed with
   * 4401. Deactivation closes them at once through the Notifier; this catches the paths that
   * could not (another instance while Redis was down, the CLI, an operator's SQL). A read that
   * fails (the database down) keeps every socket until the next round.
   */
  private async closeRevokedSockets(): Promise<void> {
    if (this.rechecking) return;
    this.rechecking = true;
    try {
      const socketsByCaller = new Map<string, { caller: Caller; sockets: WebSocket[] }>();
      for (const socket of this.server?.clients ?? []) {
        const caller = this.states.get(socket)?.caller;
        if (!caller) continue;
        const key = `${caller.id}:${caller.tokenVersion}`;
        const entry = socketsByCaller.get(key) ?? { caller, sockets: [] };
        entry.sockets.push(socket);
        socketsByCaller.set(key, entry);
      }
      const entries = [...socketsByCaller.values()];
      const current = await this.tokens.stillCurrent(entries.map((entry) => entry.caller));
      entries.forEach(({ sockets }, i) => {
        if (!current[i]) for (const socket of sockets) socket.close(CloseCode.Unauthorized, 'deactivated');
      });
    } catch (error) {
      this.logger.warn(`Could not recheck the users of open sockets: ${(error as Error).message}`);
    } finally {
      this.rechecking = false;
    }
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.recheck);
    this.connections.closeAll(CloseCode.GoingAway, 'server shutting down');
  }

  private async verifyHandshake(
    info: { origin: string; req: AuthenticatedRequest },
    done: VerifyCallback,
  ): Promise<void> {
    try {
      const allowed = this.config.allowedOrigins;
      // Browsers always send Origin; refusing foreign ones stops cross-site WebSocket hijacking.
      if (allowed && info.origin && !allowed.includes(info.origin)) return refuse(done, 403, 'Origin not allowed');
      info.req.parleyAuthStartedAt = performance.now();
      const user = await this.authenticate(info.req);
      if (!user) return refuse(done, 401, 'Unauthorized');
      if (this.connections.countFor(user.id) >= this.config.wsMaxSocketsPerUser) {
        return refuse(done, 429, 'Too many connections for this user');
      }
      info.req.parleyUser = user;
      done(true);
    } catch (error) {
      // The token may be good: 503 tells the client to retry, where 401 would tell it to drop
      // the token (every client reconnecting during a database blip would be logged out).
      if (isDatabaseUnavailable(error)) return refuse(done, 503, 'Service Unavailable', { 'Retry-After': '1' });
      if ((error as { status?: number }).status !== 401) this.logger.error(error);
      refuse(done, 401, 'Unauthorized');
    }
  }

  private async authenticate(request: IncomingMessage): Promise<AuthUser | undefined> {
    const token = bearerToken(request.headers.authorization);
    if (token) return this.tokens.authenticate(token);
    const ticket = new URL(request.url ?? '/', 'http://localhost').searchParams.get('ticket');
    if (ticket && ticket.length <= 128) return this.tokens.redeemWsTicket(ticket);
    return undefined;
  }

  private handleFrame(socket: WebSocket, data: RawData, isBinary: boolean): void {
    if (this.flooding(socket)) return;
    this.markAlive(socket);
    if (isBinary) return socket.close(CloseCode.UnsupportedData, 'text frames only');
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      frame = undefined;
    }
    if (typeof frame !== 'object' || frame === null || typeof (frame as { type?: unknown }).type !== 'string') {
      return socket.close(CloseCode.InvalidPayload, 'expected a JSON object with a type');
    }
    if ((frame as { type: string }).type === 'ping') this.connections.sendTo(socket, { type: 'pong' });
    // Other types are ignored, so that newer clients can talk to older servers.
  }

  /**
   * Every frame costs the one event loop that serves everyone: a client that sends pings as
   * fast as it can (and reads the pongs) would otherwise hold it indefinitely. Past the limit
   * the socket is closed, and no more of its input is read or answered.
   */
  private flooding(socket: WebSocket): boolean {
    // Closing (for this or any reason): nothing it sends is answered any more.
    if (socket.readyState !== socket.OPEN) return true;
    const state = this.states.get(socket);
    if (!state) return false;
    const now = Date.now();
    if (now - state.windowStart >= 1000) {
      state.windowStart = now;
      state.frames = 0;
    }
    if (++state.frames <= this.config.wsMaxFramesPerSecond) return false;
    socket.close(CloseCode.PolicyViolation, 'too many frames');
    socket.pause();
    setTimeout(() => socket.terminate(), FLOOD_CLOSE_GRACE_MS).unref();
    return true;
  }

  private markAlive(socket: WebSocket): void {
    const state = this.states.get(socket);
    if (state) state.alive = true;
  }

  /** Drops sockets that answered neither our last ping nor sent anything since. */
  private checkLiveness(server: WebSocketServer): void {
    for (const socket of server.clients) {
      const state = this.states.get(socket);
      if (!state) continue;
      if (!state.alive) {
        socket.terminate();
        continue;
      }
      state.alive = false;
      socket.ping();
    }
  }
}

/** A refused handshake is answered in the contract's error shape, as the HTTP API answers. */
function refuse(done: VerifyCallback, statusCode: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(errorBody(statusCode, message));
  done(false, statusCode, body, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
}
