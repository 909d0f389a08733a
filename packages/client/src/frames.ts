/**
 * The frames of `GET /ws`, typed by hand from docs/socket.md (OpenAPI cannot describe a
 * socket). Notifications carry ids, never bodies: the client GETs what they name.
 * Frame types a client does not know must be ignored: newer servers add some.
 */

/** The first frame: the connection is authenticated and subscribed. */
export interface ReadyFrame {
  type: 'ready';
  userId: string;
}

/** A message was committed, edited, or deleted (by its sender or an admin). */
export interface MessageFrame {
  type: 'message.created' | 'message.updated' | 'message.deleted';
  id: string;
  conversationId: string;
  seq: number;
  /** The conversation's change counter after this change. */
  changeSeq: number;
}

/** A conversation was created, or its members changed (old and new members are told). */
export interface ConversationUpdatedFrame {
  type: 'conversation.updated';
  conversationId: string;
}

/**
 * A read marker moved. Today the server sends the caller's own marker (`lastReadSeq`), so its
 * other tabs and devices can update unread counts; v1.1 (read receipts) adds other members'
 * markers, as `userId` and `seq`.
 */
export interface ConversationReadFrame {
  type: 'conversation.read';
  conversationId: string;
  lastReadSeq?: number;
  userId?: string;
  seq?: number;
}

/** Notifications may have been missed (the fan-out between instances was interrupted): catch up. */
export interface ResyncFrame {
  type: 'resync';
}

export interface PongFrame {
  type: 'pong';
}

/** The socket's access token expires at `expiresAt` (ISO 8601): answer with an `auth` frame. */
export interface TokenExpiringFrame {
  type: 'token.expiring';
  expiresAt: string;
}

/** v1.1 (typing and presence): another member is typing in a conversation. */
export interface TypingFrame {
  type: 'typing';
  conversationId: string;
  userId: string;
}

/** v1.1 (typing and presence): a user who shares a conversation went online or offline. */
export interface PresenceFrame {
  type: 'presence';
  userId: string;
  status: 'online' | 'offline';
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

/** Renews the socket with a fresh access token of the same user. */
export interface AuthFrame {
  type: 'auth';
  accessToken: string;
}

/** v1.1 (typing and presence): the user is typing in a conversation. */
export interface TypingClientFrame {
  type: 'typing';
  conversationId: string;
}

export type ClientFrame = PingFrame | AuthFrame | TypingClientFrame;

/** The close codes Parley uses beyond the usual ones. */
export const CloseCode = {
  /** The server is shutting down: reconnect, then catch up. */
  GoingAway: 1001,
  /** More than WS_MAX_FRAMES_PER_SECOND frames within a second. */
  PolicyViolation: 1008,
  /** The token expired unrenewed, the session ended, or the user was deactivated. */
  Unauthorized: 4401,
  /** A slow consumer: its unsent data passed WS_MAX_BUFFERED_BYTES. */
  SlowConsumer: 4408,
} as const;

const KNOWN_TYPES = new Set<string>([
  'ready',
  'message.created',
  'message.updated',
  'message.deleted',
  'conversation.updated',
  'conversation.read',
  'resync',
  'pong',
  'token.expiring',
  'typing',
  'presence',
]);

/** The frame in a text message, or undefined for anything else (unknown types included). */
export function parseServerFrame(data: string): ServerFrame | undefined {
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof frame !== 'object' || frame === null) return undefined;
  const type = (frame as { type?: unknown }).type;
  return typeof type === 'string' && KNOWN_TYPES.has(type) ? (frame as ServerFrame) : undefined;
}
