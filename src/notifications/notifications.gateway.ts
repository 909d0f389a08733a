import type { IncomingMessage } from 'node:http';
import { BeforeApplicationShutdown, Inject, Logger } from '@nestjs/common';
import {
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import type { AuthUser, Caller } from '../common/caller/caller.js';
import { bearerToken } from '../auth/auth.guard.js';
import { errorBody } from '../common/http-exception.filter.js';
import { isDatabaseUnavailable } from '../common/pg-errors.js';
import { TokenService } from '../auth/token.service.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { LastSeenRecorder } from '../users/last-seen.recorder.js';
import { ClientFrames } from './client-frames.js';
import { ConnectionRegistry } from './connection-registry.js';
import { Deadlines } from './deadlines.js';
import { CloseCode } from './frames.js';
import { Notifier } from './notifier.js';

const WATCH_TIMEOUT_MS = 2000;
/**
 * How long any closing socket (closed by either side, for any reason) may take to finish the
 * close handshake before it is destroyed: a client that does not read must not hold its
 * buffers, nor its place in the registry, for `ws`'s default 30 s.
 */
const CLOSE_GRACE_MS = 1000;
/** How long before its token expires a socket is sent `token.expiring` (the contract's 60 s). */
const EXPIRY_WARNING_MS = 60_000;
/** A JWT of Parley's is a few hundred bytes; anything much longer is not one. */
const ACCESS_TOKEN_MAX_LENGTH = 2048;

/** A handshake's request once authenticated, and when that authentication began. */
type AuthenticatedRequest = IncomingMessage & { parleyUser?: AuthUser; parleyAuthStartedAt?: number };
type VerifyCallback = (result: boolean, code?: number, message?: string, headers?: Record<string, string>) => void;

interface SocketState {
  /** Who the handshake (or the last `auth` frame) authenticated: token version, session, expiry. */
  caller: Caller;
  /** Whether `token.expiring` was sent for the current token (its next deadline is expiry). */
  warned: boolean;
  alive: boolean;
  /** Which tick of the heartbeat's round checks this socket (see checkLiveness). */
  heartbeatSlice: number;
  /** Frames received in the current one-second window. */
  frames: number;
  windowStart: number;
}

/**
 * `/ws`: authenticates the handshake (bearer header or single-use ticket, and Origin when
 * ALLOWED_ORIGINS is set), registers the socket under its user, answers pings, and closes
 * sockets that send anything but small JSON text frames. It never reads the database on the
 * delivery path: services publish ids through the Notifier, which lands in ConnectionRegistry.
 * A socket lives no longer than its access token: warned 60 s before expiry, renewed by an
 * `auth` frame, closed with 4401 at expiry otherwise.
 */
@WebSocketGateway({ path: '/ws' })
export class NotificationsGateway
  implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, BeforeApplicationShutdown
{
  private readonly logger = new Logger(NotificationsGateway.name);
  private readonly states = new WeakMap<WebSocket, SocketState>();
  /** Each socket's next token deadline: the warning, then the expiry. */
  private readonly deadlines = new Deadlines<WebSocket>();
  private expirySweep?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  /** The heartbeat's current tick within its round, and the slice the next socket gets. */
  private heartbeatTick = 0;
  private nextHeartbeatSlice = 0;
  private recheck?: NodeJS.Timeout;
  private rechecking = false;
  private server?: WebSocketServer;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tokens: TokenService,
    private readonly lastSeen: LastSeenRecorder,
    private readonly connections: ConnectionRegistry,
    private readonly notifier: Notifier,
    private readonly clientFrames: ClientFrames,
  ) {
    connections.onUserGone = (userId) => notifier.unwatch(userId);
    notifier.onRestored = () => void this.closeRevokedSockets();
  }

  afterInit(server: WebSocketServer): void {
    // `ws` reads these per handshake, so they can be set here, where the configuration is known.
    server.options.maxPayload = this.config.wsMaxFrameBytes;
    // `ws` would answer every ping control frame itself, outside both the frame limit and the
    // buffer limit: the gateway counts them and answers through ConnectionRegistry instead.
    // A message's fragments are frames too: one split into more than a second's worth of frames
    // is closed with 1008 by `ws`, where an endless stream of empty fragments would never
    // complete a message to be counted. (`closeTimeout` is in `ws` but not in its types.)
    Object.assign(server.options, { autoPong: false, closeTimeout: CLOSE_GRACE_MS, maxFragments: this.config.wsMaxFramesPerSecond });
    server.options.verifyClient = (info, done) => void this.verifyHandshake(info, done);
    this.server = server;
    this.heartbeat = setInterval(() => this.checkLiveness(server), this.config.wsHeartbeatMs / HEARTBEAT_SLICES);
    this.heartbeat.unref();
    this.recheck = setInterval(() => void this.closeRevokedSockets(), this.config.wsRecheckMs);
    this.recheck.unref();
    this.expirySweep = setInterval(() => this.sweepDeadlines(), 1000);
    this.expirySweep.unref();
  }

  async handleConnection(socket: WebSocket, request: AuthenticatedRequest): Promise<void> {
    const user = request.parleyUser;
    if (!user) {
      socket.close(CloseCode.Unauthorized, 'unauthorized');
      return;
    }
    const caller: Caller = { id: user.id, tokenVersion: user.tokenVersion, sessionId: user.sessionId, expiresAt: user.expiresAt };
    const heartbeatSlice = this.nextHeartbeatSlice++ % HEARTBEAT_SLICES;
    this.states.set(socket, { caller, warned: false, alive: true, heartbeatSlice, frames: 0, windowStart: Date.now() });
    // Every frame the client sends, data or control, is counted here; a close frame needs no
    // count, since `ws` reads nothing after it.
    socket.on('message', (data, isBinary) => {
      if (this.received(socket)) this.handleFrame(socket, data, isBinary);
    });
    socket.on('ping', (data) => {
      if (this.received(socket)) this.connections.pong(socket, data);
    });
    socket.on('pong', () => this.received(socket));
    // Registered (and, across instances, subscribed) before `ready` is sent: a client that has
    // seen `ready` misses no notification published after it, and gets none before it.
    this.connections.add(user.id, socket, user.sessionId);
    // Deactivated or logged out while this handshake was in flight: its read may predate that.
    if (this.connections.disconnectedSince(user.id, user.sessionId, request.parleyAuthStartedAt ?? 0)) {
      socket.close(CloseCode.Unauthorized, 'deactivated');
      return;
    }
    await this.watch(user.id);
    if (socket.readyState !== socket.OPEN) return;
    this.connections.ready(socket, { type: 'ready', userId: user.id });
    this.scheduleExpiry(socket);
    this.lastSeen.seen(user.id);
  }

  handleDisconnect(socket: WebSocket): void {
    this.deadlines.remove(socket);
    this.connections.remove(socket);
    // Seen until now: an offline user's lastSeenAt is when its last socket closed.
    const userId = this.states.get(socket)?.caller.id;
    if (userId !== undefined) this.lastSeen.seen(userId);
  }

  /**
   * The socket's next deadline for its current token: the warning 60 s before expiry (sent at
   * once when less is left), then the expiry itself.
   */
  private scheduleExpiry(socket: WebSocket): void {
    const state = this.states.get(socket);
    if (!state) return;
    const expiresAtMs = state.caller.expiresAt * 1000;
    if (!state.warned && expiresAtMs - EXPIRY_WARNING_MS <= Date.now()) this.warnExpiring(socket, state);
    this.deadlines.schedule(socket, state.warned ? expiresAtMs : expiresAtMs - EXPIRY_WARNING_MS);
  }

  private warnExpiring(socket: WebSocket, state: SocketState): void {
    state.warned = true;
    this.connections.sendTo(socket, { type: 'token.expiring', expiresAt: new Date(state.caller.expiresAt * 1000).toISOString() });
  }

  /** Each second: warns the sockets whose token expires within 60 s, closes those whose token expired. */
  private sweepDeadlines(): void {
    for (const socket of this.deadlines.takeDue()) {
      const state = this.states.get(socket);
      if (!state || socket.readyState !== socket.OPEN) continue;
      if (state.caller.expiresAt * 1000 <= Date.now()) {
        socket.close(CloseCode.Unauthorized, 'token expired');
        continue;
      }
      this.scheduleExpiry(socket);
    }
  }

  /**
   * An `auth` frame: a fresh access token for the socket, verified as a request's would be
   * (signature, expiry, user active, session live). Of the same user, it replaces the socket's
   * token (and session); anything else closes the socket with 4401, so a client that renews
   * wrongly learns it at once rather than at expiry. A database outage keeps the socket until
   * its current token expires; the client may send the frame again.
   */
  private async renew(socket: WebSocket, accessToken: unknown): Promise<void> {
    const state = this.states.get(socket);
    if (!state) return;
    let user: AuthUser | undefined;
    try {
      if (typeof accessToken === 'string' && accessToken.length <= ACCESS_TOKEN_MAX_LENGTH) {
        user = await this.tokens.authenticate(accessToken);
      }
    } catch (error) {
      if (isDatabaseUnavailable(error)) return;
      if ((error as { status?: number }).status !== 401) this.logger.error(error);
    }
    if (socket.readyState !== socket.OPEN) return;
    if (!user || user.id !== state.caller.id) {
      socket.close(CloseCode.Unauthorized, 'invalid token');
      return;
    }
    state.caller = { id: user.id, tokenVersion: user.tokenVersion, sessionId: user.sessionId, expiresAt: user.expiresAt };
    state.warned = false;
    this.connections.moveToSession(socket, user.sessionId);
    this.scheduleExpiry(socket);
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
   * Every WS_RECHECK_MS, and when Redis is back after an outage: each socket's user and session
   * are read again and the sockets of users no longer active at their token version, or whose
   * session has ended, are closed with 4401. Deactivation and ending a session close them at
   * once through the Notifier; this catches the paths that
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
        const key = `${caller.id}:${caller.tokenVersion}:${caller.sessionId}`;
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
    clearInterval(this.expirySweep);
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
    const type = (frame as { type: string }).type;
    if (type === 'ping') this.connections.sendTo(socket, { type: 'pong' });
    else if (type === 'auth') void this.renew(socket, (frame as { accessToken?: unknown }).accessToken);
    // Types other features handle (`typing`); unknown ones are ignored, so that newer clients
    // can talk to older servers.
    else {
      const userId = this.states.get(socket)?.caller.id;
      if (userId !== undefined) this.clientFrames.handle(type, userId, frame as Record<string, unknown>);
    }
  }

  /**
   * Counts one frame from the client, of any kind, and tells whether to act on it. Every frame
   * costs the one event loop that serves everyone, and a ping also owes the client a pong: a
   * client that sends frames as fast as it can would otherwise hold the loop indefinitely. Past
   * WS_MAX_FRAMES_PER_SECOND the socket is dropped, and no more of its input is read or answered.
   */
  private received(socket: WebSocket): boolean {
    // Closing (for this or any reason): nothing it sends is answered any more.
    if (socket.readyState !== socket.OPEN) return false;
    const state = this.states.get(socket);
    if (!state) return false;
    const now = Date.now();
    if (now - state.windowStart >= 1000) {
      state.windowStart = now;
      state.frames = 0;
    }
    if (++state.frames > this.config.wsMaxFramesPerSecond) {
      this.connections.drop(socket, CloseCode.PolicyViolation, 'too many frames');
      return false;
    }
    state.alive = true;
    return true;
  }

  /**
   * Drops sockets that answered neither our last ping nor sent anything since. Each tick checks
   * one slice of the sockets, so that each is checked once every WS_HEARTBEAT_MS: pinging every
   * socket at once held the event loop for a write per socket (about 200 ms at 13,500 sockets),
   * and their pongs then arrived together, which every frame and answer queued behind.
   */
  private checkLiveness(server: WebSocketServer): void {
    const slice = this.heartbeatTick++ % HEARTBEAT_SLICES;
    for (const socket of server.clients) {
      const state = this.states.get(socket);
      if (!state || state.heartbeatSlice !== slice) continue;
      if (!state.alive) {
        socket.terminate();
        continue;
      }
      state.alive = false;
      this.connections.ping(socket);
    }
  }
}

/** Ticks per heartbeat round: each socket is checked on one of them. */
const HEARTBEAT_SLICES = 100;

/** A refused handshake is answered in the contract's error shape, as the HTTP API answers. */
function refuse(done: VerifyCallback, statusCode: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(errorBody(statusCode, message));
  done(false, statusCode, body, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
}
