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

/** Beyond the contract: the caller's own read marker moved (so its other tabs can update). */
export interface ConversationReadFrame {
  type: 'conversation.read';
  conversationId: string;
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

export type ServerFrame =
  | ReadyFrame
  | MessageFrame
  | ConversationUpdatedFrame
  | ConversationReadFrame
  | ResyncFrame
  | PongFrame;

export interface PingFrame {
  type: 'ping';
}

export type ClientFrame = PingFrame;

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
  /** The user was deactivated or its tokens revoked: do not reconnect with the same token. */
  Unauthorized: 4401,
  /** The socket did not read fast enough and its unsent data passed WS_MAX_BUFFERED_BYTES. */
  SlowConsumer: 4408,
} as const;
