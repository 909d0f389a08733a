import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { ParleyError } from './errors.js';
import type { components, paths } from './generated/openapi.js';
import type { TokenSource } from './tokens.js';

type Schemas = components['schemas'];
export type User = Schemas['UserView'];
/** The caller's own user, with its settings. */
export type Self = Schemas['SelfView'];
export type Conversation = Schemas['ConversationView'];
export type Message = Schemas['MessageView'];
export type UserPage = Schemas['UserPage'];
export type ConversationPage = Schemas['ConversationPage'];
export type HistoryPage = Schemas['HistoryPage'];
export type ChangesPage = Schemas['ChangesPage'];
/** The answer to register and login: the user, an access token, and a refresh token. */
export type SessionAnswer = Schemas['Session'];
export type TokenPair = Schemas['TokenPair'];
export type SessionInfo = Schemas['SessionView'];
export type WsTicket = Schemas['WsTicket'];
export type AdminUser = Schemas['AdminUserView'];
export type AdminMessage = Schemas['AdminMessageView'];
export type Stats = Schemas['StatsView'];
export type Receipt = Schemas['ReceiptView'];
export type ThreadPage = Schemas['ThreadPage'];
export type Attachment = Schemas['AttachmentView'];
export type SearchHit = Schemas['SearchHitView'];
export type SearchPage = Schemas['SearchPage'];
export type Presence = Schemas['PresenceView'];
export type SearchQuery = NonNullable<paths['/api/v1/search/messages']['get']['parameters']['query']>;
export type RegisterBody = Schemas['RegisterDto'];
export type SendMessageBody = Schemas['SendMessageDto'];
export type UpdateMeBody = Schemas['UpdateMeDto'];
export type UpdateUserBody = Schemas['UpdateUserDto'];
export type Bot = Schemas['BotView'];
export type CreatedBot = Schemas['CreatedBot'];
export type CreateBotBody = Schemas['CreateBotDto'];
export type WebhookSet = Schemas['WebhookSet'];
/** A browser's `PushSubscription.toJSON()`: the push service's endpoint and the keys to encrypt for it. */
export type PushSubscriptionBody = Schemas['SubscribeDto'];
export type { components, paths };

/** The openapi-fetch client over the whole contract, typed from the server's OpenAPI document. */
export type RawApi = Client<paths>;

/** Calls that take no access token: a 401 from them is a wrong password, not an expired token. */
const PUBLIC_PATHS = new Set(['/api/v1/auth/register', '/api/v1/auth/login', '/api/v1/auth/refresh', '/health/live', '/health/ready']);

export interface RawApiOptions {
  baseUrl: string;
  /** The session's tokens; none before logging in. */
  tokens?: () => TokenSource | undefined;
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * openapi-fetch with the session's access token on every call. A call the server refuses with
 * 401 is sent once more after the token is renewed (a token that expired while the process
 * slept); a call that gets no answer throws a ParleyError with `statusCode` 0.
 */
export function createRawApi(options: RawApiOptions): RawApi {
  const fetchImpl = options.fetch ?? ((input: Request) => globalThis.fetch(input));
  const client = createClient<paths>({ baseUrl: options.baseUrl.replace(/\/$/, ''), fetch: fetchImpl });
  const sent = new Map<string, { token: string; copy: Request }>();
  const auth: Middleware = {
    onRequest({ request, schemaPath, id }) {
      const tokens = options.tokens?.();
      if (!tokens || PUBLIC_PATHS.has(schemaPath) || request.headers.has('authorization')) return undefined;
      const token = tokens.accessToken;
      request.headers.set('authorization', `Bearer ${token}`);
      // Kept to send again after a renewal: the body of the one sent is used up.
      sent.set(id, { token, copy: request.clone() });
      return request;
    },
    async onResponse({ response, id }) {
      const kept = sent.get(id);
      sent.delete(id);
      const tokens = options.tokens?.();
      if (response.status !== 401 || !kept || !tokens) return undefined;
      if ((await tokens.renew(kept.token)) !== 'renewed') return undefined;
      kept.copy.headers.set('authorization', `Bearer ${tokens.accessToken}`);
      try {
        return await fetchImpl(kept.copy);
      } catch (error) {
        throw ParleyError.network(error);
      }
    },
    onError({ error, id }) {
      sent.delete(id);
      return error instanceof ParleyError ? error : ParleyError.network(error);
    },
  };
  client.use(auth);
  return client;
}

/** What openapi-fetch answers: the data of a 2xx, or the error body of anything else. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a 2xx answer; a ParleyError for anything else. */
export async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw ParleyError.fromResponse(response, error);
  return data as T;
}

export interface PageQuery {
  limit?: number;
  cursor?: string;
}

/**
 * The REST contract as methods: each returns the answer's data or throws a ParleyError. Types
 * come from the server's OpenAPI document; `raw` is the typed openapi-fetch client itself, for
 * anything else.
 */
export class ParleyApi {
  constructor(readonly raw: RawApi) {}

  // Auth and sessions

  register(body: RegisterBody): Promise<SessionAnswer> {
    return unwrap(this.raw.POST('/api/v1/auth/register', { body }));
  }

  login(username: string, password: string): Promise<SessionAnswer> {
    return unwrap(this.raw.POST('/api/v1/auth/login', { body: { username, password } }));
  }

  /** Exchanges a refresh token (single use) for a new pair. */
  refresh(refreshToken: string): Promise<TokenPair> {
    return unwrap(this.raw.POST('/api/v1/auth/refresh', { body: { refreshToken } }));
  }

  /** A single-use ticket for opening `/ws` where headers cannot be set (browsers). */
  wsTicket(): Promise<WsTicket> {
    return unwrap(this.raw.POST('/api/v1/auth/ws-ticket'));
  }

  /** Ends the caller's session: its tokens and sockets. */
  logout(): Promise<void> {
    return unwrap(this.raw.POST('/api/v1/auth/logout'));
  }

  sessions(): Promise<{ items: SessionInfo[] }> {
    return unwrap(this.raw.GET('/api/v1/auth/sessions'));
  }

  endSession(id: string): Promise<void> {
    return unwrap(this.raw.DELETE('/api/v1/auth/sessions/{id}', { params: { path: { id } } }));
  }

  // Users

  me(): Promise<Self> {
    return unwrap(this.raw.GET('/api/v1/users/me'));
  }

  updateMe(changes: UpdateMeBody): Promise<Self> {
    return unwrap(this.raw.PATCH('/api/v1/users/me', { body: changes }));
  }

  /** Active users but the caller whose username or display name matches `q`. */
  searchUsers(q: string, page: PageQuery = {}): Promise<UserPage> {
    return unwrap(this.raw.GET('/api/v1/users', { params: { query: { q, ...page } } }));
  }

  user(id: string): Promise<User> {
    return unwrap(this.raw.GET('/api/v1/users/{id}', { params: { path: { id } } }));
  }

  // Conversations

  /** One page of the caller's conversations, most recently active first. */
  conversations(page: PageQuery = {}): Promise<ConversationPage> {
    return unwrap(this.raw.GET('/api/v1/conversations', { params: { query: page } }));
  }

  /** Every conversation of the caller, following `nextCursor`. */
  async allConversations(pageSize = 100): Promise<Conversation[]> {
    const all: Conversation[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.conversations({ limit: pageSize, ...(cursor ? { cursor } : {}) });
      all.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return all;
  }

  conversation(id: string): Promise<Conversation> {
    return unwrap(this.raw.GET('/api/v1/conversations/{id}', { params: { path: { id } } }));
  }

  /** The direct conversation with `userId`: created (201) or the existing one (200). */
  openDirect(userId: string): Promise<Conversation> {
    return unwrap(this.raw.POST('/api/v1/conversations', { body: { type: 'direct', userId } }));
  }

  createGroup(title: string, memberIds: string[]): Promise<Conversation> {
    return unwrap(this.raw.POST('/api/v1/conversations', { body: { type: 'group', title, memberIds } }));
  }

  addMembers(conversationId: string, userIds: string[]): Promise<Conversation> {
    return unwrap(this.raw.POST('/api/v1/conversations/{id}/members', { params: { path: { id: conversationId } }, body: { userIds } }));
  }

  /** The owner removes anyone; a member removes itself. */
  removeMember(conversationId: string, userId: string): Promise<void> {
    return unwrap(
      this.raw.DELETE('/api/v1/conversations/{id}/members/{userId}', { params: { path: { id: conversationId, userId } } }),
    );
  }

  /** Renames a group (its owner only); members see a system message. */
  renameGroup(conversationId: string, title: string): Promise<Conversation> {
    return unwrap(this.raw.PATCH('/api/v1/conversations/{id}', { params: { path: { id: conversationId } }, body: { title } }));
  }

  /** The caller's settings of a conversation: `muted` stops its Web Push notifications for the caller. */
  updateConversationSettings(conversationId: string, settings: { muted: boolean }): Promise<Conversation> {
    return unwrap(this.raw.PATCH('/api/v1/conversations/{id}/settings', { params: { path: { id: conversationId } }, body: settings }));
  }

  /** Every member's read marker (null for members who do not share read receipts). */
  async receipts(conversationId: string): Promise<Receipt[]> {
    const page = await unwrap(this.raw.GET('/api/v1/conversations/{id}/receipts', { params: { path: { id: conversationId } } }));
    return page.items;
  }

  /** The conversation's pinned messages, newest pin first. */
  async pins(conversationId: string): Promise<Message[]> {
    const page = await unwrap(this.raw.GET('/api/v1/conversations/{id}/pins', { params: { path: { id: conversationId } } }));
    return page.items;
  }

  pin(conversationId: string, messageId: string): Promise<void> {
    return unwrap(this.raw.PUT('/api/v1/conversations/{id}/pins/{messageId}', { params: { path: { id: conversationId, messageId } } }));
  }

  unpin(conversationId: string, messageId: string): Promise<void> {
    return unwrap(this.raw.DELETE('/api/v1/conversations/{id}/pins/{messageId}', { params: { path: { id: conversationId, messageId } } }));
  }

  /** Tells the other members the caller is typing (`ParleyClient.typing` uses the socket when it can). */
  typing(conversationId: string): Promise<void> {
    return unwrap(this.raw.POST('/api/v1/conversations/{id}/typing', { params: { path: { id: conversationId } } }));
  }

  /** The caller has read up to `seq`. */
  markRead(conversationId: string, seq: number): Promise<void> {
    return unwrap(this.raw.POST('/api/v1/conversations/{id}/read', { params: { path: { id: conversationId } }, body: { seq } }));
  }

  // Messages

  /**
   * One POST, no retry: `ParleyClient.send` is the outbox that retries until the server
   * answers. The same `clientMessageId` again answers the original message (200).
   */
  sendMessage(body: SendMessageBody): Promise<Message> {
    return unwrap(this.raw.POST('/api/v1/messages', { body }));
  }

  message(id: string): Promise<Message> {
    return unwrap(this.raw.GET('/api/v1/messages/{id}', { params: { path: { id } } }));
  }

  editMessage(id: string, body: string): Promise<Message> {
    return unwrap(this.raw.PATCH('/api/v1/messages/{id}', { params: { path: { id } }, body: { body } }));
  }

  /** Deleted messages stay in history as tombstones (`body` null, `deletedAt` set). */
  deleteMessage(id: string): Promise<void> {
    return unwrap(this.raw.DELETE('/api/v1/messages/{id}', { params: { path: { id } } }));
  }

  /** Replies in the thread of `rootId`, oldest first, after the reply with seq `after`. */
  thread(rootId: string, range: { after?: number; limit?: number } = {}): Promise<ThreadPage> {
    return unwrap(this.raw.GET('/api/v1/messages/{id}/thread', { params: { path: { id: rootId }, query: range } }));
  }

  /** Adds the caller's reaction (one emoji); a second time is a 409. */
  react(messageId: string, emoji: string): Promise<void> {
    return unwrap(this.raw.PUT('/api/v1/messages/{id}/reactions/{emoji}', { params: { path: { id: messageId, emoji } } }));
  }

  unreact(messageId: string, emoji: string): Promise<void> {
    return unwrap(this.raw.DELETE('/api/v1/messages/{id}/reactions/{emoji}', { params: { path: { id: messageId, emoji } } }));
  }

  /** Who reacted with `emoji`, a page at a time. */
  reactors(messageId: string, emoji: string, page: PageQuery = {}): Promise<UserPage> {
    return unwrap(this.raw.GET('/api/v1/messages/{id}/reactions/{emoji}', { params: { path: { id: messageId, emoji }, query: page } }));
  }

  /** Full-text search over the caller's conversations, newest first, `highlight` HTML-escaped. */
  search(query: SearchQuery): Promise<SearchPage> {
    return unwrap(this.raw.GET('/api/v1/search/messages', { params: { query } }));
  }

  // Attachments

  /**
   * Uploads a file (at most the server's limit, 25 MiB by default) for attaching to a message
   * with `attachmentIds`. `ParleyClient.upload` adds progress in browsers.
   */
  upload(file: Blob, options: { filename?: string; signal?: AbortSignal } = {}): Promise<Attachment> {
    const form = new FormData();
    form.append('file', file, options.filename ?? fileName(file));
    return unwrap(
      this.raw.POST('/api/v1/attachments', {
        // openapi-fetch would JSON-encode it; the browser or undici sets the multipart boundary.
        body: form as unknown as { file: string },
        bodySerializer: (body) => body as unknown as FormData,
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    );
  }

  /** The attachment with fresh signed `url` and `thumbnailUrl` (they expire within an hour). */
  attachment(id: string): Promise<Attachment> {
    return unwrap(this.raw.GET('/api/v1/attachments/{id}', { params: { path: { id } } }));
  }

  // Presence

  /** Online or offline, for users who share a conversation with the caller (at most 100). */
  async presence(userIds: readonly string[]): Promise<Presence[]> {
    const page = await unwrap(this.raw.GET('/api/v1/presence', { params: { query: { userIds: userIds.join(',') } } }));
    return page.items;
  }

  /**
   * A page of history. Default: the newest `limit`, newest first; `before`: older than that
   * seq, newest first; `after`: newer than that seq, oldest first.
   */
  history(conversationId: string, range: { before?: number; after?: number; limit?: number } = {}): Promise<HistoryPage> {
    return unwrap(this.raw.GET('/api/v1/conversations/{id}/messages', { params: { path: { id: conversationId }, query: range } }));
  }

  /** The changes feed: every message created, edited or deleted after change `since`, in change order. */
  changes(conversationId: string, since: number, limit?: number): Promise<ChangesPage> {
    return unwrap(
      this.raw.GET('/api/v1/conversations/{id}/changes', { params: { path: { id: conversationId }, query: { since, limit } } }),
    );
  }

  // Web Push

  /** The server's VAPID public key (URL-safe base64): the `applicationServerKey` to subscribe with. */
  async vapidPublicKey(): Promise<string> {
    return (await unwrap(this.raw.GET('/api/v1/push/vapid-public-key'))).publicKey;
  }

  /** Registers a browser's push subscription; the same endpoint again answers the same id. */
  async subscribePush(subscription: PushSubscriptionBody): Promise<string> {
    return (await unwrap(this.raw.POST('/api/v1/push/subscriptions', { body: subscription }))).id;
  }

  unsubscribePush(id: string): Promise<void> {
    return unwrap(this.raw.DELETE('/api/v1/push/subscriptions/{id}', { params: { path: { id } } }));
  }

  // Bots (owned by the caller)

  /** A new bot user and its token, which is shown only this once. */
  createBot(body: CreateBotBody): Promise<CreatedBot> {
    return unwrap(this.raw.POST('/api/v1/bots', { body }));
  }

  async bots(): Promise<Bot[]> {
    return (await unwrap(this.raw.GET('/api/v1/bots'))).items;
  }

  /** A new token for the bot; the old one stops working at once. */
  async rotateBotToken(botId: string): Promise<string> {
    return (await unwrap(this.raw.POST('/api/v1/bots/{id}/token', { params: { path: { id: botId } } }))).token;
  }

  /** Sends the bot's frames to `url`, signed with the returned `secret` (shown only this once). */
  setBotWebhook(botId: string, url: string): Promise<WebhookSet> {
    return unwrap(this.raw.PUT('/api/v1/bots/{id}/webhook', { params: { path: { id: botId } }, body: { url } }));
  }

  removeBotWebhook(botId: string): Promise<void> {
    return unwrap(this.raw.DELETE('/api/v1/bots/{id}/webhook', { params: { path: { id: botId } } }));
  }

  /** Deactivates the bot: its token and webhook stop at once. */
  deactivateBot(botId: string): Promise<void> {
    return unwrap(this.raw.DELETE('/api/v1/bots/{id}', { params: { path: { id: botId } } }));
  }

  // Admin (role admin)

  adminUsers(query: NonNullable<paths['/api/v1/admin/users']['get']['parameters']['query']> = {}) {
    return unwrap(this.raw.GET('/api/v1/admin/users', { params: { query } }));
  }

  updateUser(id: string, changes: UpdateUserBody): Promise<AdminUser> {
    return unwrap(this.raw.PATCH('/api/v1/admin/users/{id}', { params: { path: { id } }, body: changes }));
  }

  adminMessages(query: NonNullable<paths['/api/v1/admin/messages']['get']['parameters']['query']> = {}) {
    return unwrap(this.raw.GET('/api/v1/admin/messages', { params: { query } }));
  }

  /** Moderation removal: members are told with `message.deleted`. */
  removeMessage(id: string): Promise<void> {
    return unwrap(this.raw.DELETE('/api/v1/admin/messages/{id}', { params: { path: { id } } }));
  }

  stats(): Promise<Stats> {
    return unwrap(this.raw.GET('/api/v1/admin/stats'));
  }

  /** Moderation: deletes an attachment's bytes and record. */
  removeAttachment(id: string): Promise<void> {
    return unwrap(this.raw.DELETE('/api/v1/admin/attachments/{id}', { params: { path: { id } } }));
  }
}

/** A File's own name; a Blob has none. */
function fileName(file: Blob): string {
  const name = (file as Blob & { name?: unknown }).name;
  return typeof name === 'string' && name !== '' ? name : 'file';
}
