export { ParleyClient, type ClientEvents, type ParleyClientOptions } from './client.js';
export { Emitter } from './emitter.js';
export { ParleyError } from './errors.js';
export * from './frames.js';
export {
  createRawApi,
  ParleyApi,
  unwrap,
  type AdminMessage,
  type Attachment,
  type AdminUser,
  type Bot,
  type ChangesPage,
  type components,
  type Conversation,
  type ConversationPage,
  type CreateBotBody,
  type CreatedBot,
  type HistoryPage,
  type Message,
  type PageQuery,
  type Presence,
  type PushSubscriptionBody,
  type paths,
  type RawApi,
  type Receipt,
  type RegisterBody,
  type SearchHit,
  type SearchPage,
  type SearchQuery,
  type Self,
  type SendMessageBody,
  type SessionAnswer,
  type SessionInfo,
  type Stats,
  type ThreadPage,
  type TokenPair,
  type UpdateMeBody,
  type UpdateUserBody,
  type User,
  type UserPage,
  type WebhookSet,
  type WsTicket,
} from './http.js';
export { LiveConnection, type ConnectionState, type ConnectionStatus, type LiveOptions, type NotificationFrame } from './live.js';
export { Outbox, randomId, type PendingMessage, type PendingStatus, type SendOptions } from './outbox.js';
export { browserSocket, type SocketHandle, type SocketHandlers, type SocketOpener } from './socket.js';
export { MemoryStore, type ConversationCursor, type SyncStore } from './store.js';
export type { PresenceEvent, ReadEvent, SyncEvents, TypingEvent } from './sync.js';
export { SessionTokens, StaticToken, type RenewOutcome, type StoredTokens, type TokenSource } from './tokens.js';
