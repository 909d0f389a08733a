/**
 * Every frame that crosses /ws, in one place: the gateway, the services, the tests and the
 * web client all import these types. Notifications carry ids, never bodies.
 */
export interface ReadyFrame {
  type: 'ready';
  userId: string;
}

export interface MessageFrame {
  type: 'message.created' | 'message.updated' | 'message.deleted';
  id: string;
  conversationId: string;
  seq: number;
  /** The conversation's change counter after this change (see the changes feed). */
  changeSeq: number;
}

export interface ConversationUpdatedFrame {
  type: 'conversation.updated';
  conversationId: string;
}

/**
 * A member's read marker moved: `userId`'s marker is now at `seq`. The member's own sockets
 * always get it (its other tabs update their unread counts); the other members get it when it
 * moved forward, if that member shares read receipts (admins get it either way). `lastReadSeq`
 * is the receiving user's own marker in the conversation, the same as `seq` on a frame about
 * oneself: clients that predate read receipts read only that field, and stay right.
 */
export interface ConversationReadFrame {
  type: 'conversation.read';
  conversationId: string;
  userId: string;
  seq: number;
  lastReadSeq: number;
}

/**
 * Beyond the contract: this connection may have missed notifications (the fan-out between
 * instances was interrupted). Run the catch-up procedure, as after a reconnect.
 */
export interface ResyncFrame {
  type: 'resync';
}

export interface PongFrame {
  type: 'pong';
}

/**
 * The socket's access token expires at `expiresAt` (ISO 8601): sent 60 s before (at once if
 * less is left). Answer with an `auth` frame carrying a fresh token of the same user, or the
 * socket is closed with 4401 at that time.
 */
export interface TokenExpiringFrame {
  type: 'token.expiring';
  expiresAt: string;
}

/**
 * Another member is typing in the conversation: show it for 6 s after the last one, and end it
 * when a message from that user arrives. Never stored; at most one per user and conversation
 * every 2 s.
 */
export interface TypingFrame {
  type: 'typing';
  conversationId: string;
  userId: string;
}

export type PresenceStatus = 'online' | 'offline';

/**
 * A user who shares a conversation with the receiver came online or went offline (after a
 * grace of 10 s, so that a reload does not flicker). `lastSeenAt` (ISO 8601) is when it was
 * last online: the moment of the frame for `online`; null when it does not share its presence.
 */
export interface PresenceFrame {
  type: 'presence';
  userId: string;
  status: PresenceStatus;
  lastSeenAt: string | null;
}

export type ServerFrame =
  | ReadyFrame
  | MessageFrame
  | ConversationUpdatedFrame
  | ConversationReadFrame
  | ResyncFrame
  | PongFrame
  | TokenExpiringFrame
  | TypingFrame
  | PresenceFrame;

export interface PingFrame {
  type: 'ping';
}

/**
 * Renews the socket with a fresh access token of the same user: it then lives until that
 * token expires. A token that is invalid, expired, revoked or another user's closes the socket
 * with 4401.
 */
export interface AuthFrame {
  type: 'auth';
  accessToken: string;
}

/**
 * The user is typing in the conversation: passed on to its other members (at most one per user
 * and conversation every 2 s); ignored for a conversation the user is not in.
 */
export interface TypingClientFrame {
  type: 'typing';
  conversationId: string;
}

export type ClientFrame = PingFrame | AuthFrame | TypingClientFrame;

/** Close codes Parley uses beyond the standard ones (1001 going away, 1003, 1007, 1009). */
export const CloseCode = {
  /** The server is shutting down; reconnect (to another instance). */
  GoingAway: 1001,
  /** A binary frame: the protocol is JSON text. */
  UnsupportedData: 1003,
  /** A text frame that is not a JSON object with a `type`. */
  InvalidPayload: 1007,
  /** More than WS_MAX_FRAMES_PER_SECOND frames within a second. */
  PolicyViolation: 1008,
  /** A frame over WS_MAX_FRAME_BYTES (sent by `ws` itself). */
  MessageTooBig: 1009,
  /**
   * The socket's access token expired unrenewed, its session ended (logout, revoked, a replayed
   * refresh token), or its user was deactivated or its tokens revoked: do not reconnect with the
   * same token (refresh it first; if that fails, log in again).
   */
  Unauthorized: 4401,
  /** The socket did not read fast enough and its unsent data passed WS_MAX_BUFFERED_BYTES. */
  SlowConsumer: 4408,
} as const;
