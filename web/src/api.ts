/** The REST half of the contract (shared/API.md), as the web client uses it. */

export interface User {
  id: string;
  username: string;
  displayName: string;
  createdAt: string;
}

export interface Conversation {
  id: string;
  type: 'direct' | 'group';
  title: string | null;
  ownerId: string | null;
  memberIds: string[];
  lastSeq: number;
  lastChangeSeq: number;
  lastMessageId: string | null;
  lastReadSeq: number;
  unreadCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface Message {
  id: string;
  conversationId: string;
  seq: number;
  /** The conversation's change counter at this message's last change (create, edit, delete). */
  changeSeq: number;
  senderId: string;
  body: string | null;
  clientMessageId: string | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface HistoryPage {
  items: Message[];
  hasMore: boolean;
}

export interface ChangesPage extends HistoryPage {
  lastChangeSeq: number;
}

export interface AuthAnswer {
  user: User;
  accessToken: string;
}

/** An answer other than 2xx, or no answer at all (`status` 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  get isNetwork(): boolean {
    return this.status === 0;
  }
}

type Query = Record<string, string | number | undefined>;

export class Api {
  /**
   * @param token the bearer token, or null before logging in
   * @param onUnauthorized called when the server refuses the token (expired, revoked, deactivated)
   */
  constructor(
    private readonly token: string | null,
    private readonly onUnauthorized: () => void = () => undefined,
  ) {}

  register(username: string, password: string): Promise<AuthAnswer> {
    return this.request('POST', '/auth/register', { body: { username, password }, auth: false });
  }

  login(username: string, password: string): Promise<AuthAnswer> {
    return this.request('POST', '/auth/login', { body: { username, password }, auth: false });
  }

  wsTicket(): Promise<{ ticket: string; expiresAt: string }> {
    return this.request('POST', '/auth/ws-ticket');
  }

  me(): Promise<User> {
    return this.request('GET', '/users/me');
  }

  user(id: string): Promise<User> {
    return this.request('GET', `/users/${encodeURIComponent(id)}`);
  }

  searchUsers(q: string, limit = 10): Promise<Page<User>> {
    return this.request('GET', '/users', { query: { q, limit } });
  }

  conversations(cursor?: string, limit = 100): Promise<Page<Conversation>> {
    return this.request('GET', '/conversations', { query: { cursor, limit } });
  }

  conversation(id: string): Promise<Conversation> {
    return this.request('GET', `/conversations/${encodeURIComponent(id)}`);
  }

  /** 201 new or 200 the existing one for the pair: both answer the conversation. */
  openDirect(userId: string): Promise<Conversation> {
    return this.request('POST', '/conversations', { body: { type: 'direct', userId } });
  }

  createGroup(title: string, memberIds: string[]): Promise<Conversation> {
    return this.request('POST', '/conversations', { body: { type: 'group', title, memberIds } });
  }

  addMembers(conversationId: string, userIds: string[]): Promise<Conversation> {
    return this.request('POST', `/conversations/${encodeURIComponent(conversationId)}/members`, { body: { userIds } });
  }

  markRead(conversationId: string, seq: number): Promise<void> {
    return this.request('POST', `/conversations/${encodeURIComponent(conversationId)}/read`, { body: { seq } });
  }

  history(conversationId: string, range: { before?: number; after?: number; limit?: number }): Promise<HistoryPage> {
    return this.request('GET', `/conversations/${encodeURIComponent(conversationId)}/messages`, { query: range });
  }

  changes(conversationId: string, since: number, limit = 100): Promise<ChangesPage> {
    return this.request('GET', `/conversations/${encodeURIComponent(conversationId)}/changes`, {
      query: { since, limit },
    });
  }

  send(conversationId: string, body: string, clientMessageId: string): Promise<Message> {
    return this.request('POST', '/messages', { body: { conversationId, body, clientMessageId } });
  }

  message(id: string): Promise<Message> {
    return this.request('GET', `/messages/${encodeURIComponent(id)}`);
  }

  edit(id: string, body: string): Promise<Message> {
    return this.request('PATCH', `/messages/${encodeURIComponent(id)}`, { body: { body } });
  }

  delete(id: string): Promise<void> {
    return this.request('DELETE', `/messages/${encodeURIComponent(id)}`);
  }

  private async request<T>(
    method: string,
    path: string,
    options: { body?: unknown; query?: Query; auth?: boolean } = {},
  ): Promise<T> {
    const auth = options.auth ?? true;
    const url = new URL(`/api/v1${path}`, location.origin);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (auth && this.token) headers.authorization = `Bearer ${this.token}`;

    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch {
      throw new ApiError(0, 'Cannot reach the server. Check your connection.');
    }
    if (response.status === 204) return undefined as T;
    const payload = (await response.json().catch(() => null)) as unknown;
    if (response.ok) return payload as T;
    if (response.status === 401 && auth) this.onUnauthorized();
    throw new ApiError(response.status, errorMessage(payload, response.status));
  }
}

/** The contract's error shape: `{statusCode, error, message: string | string[]}`. */
function errorMessage(payload: unknown, status: number): string {
  const message = (payload as { message?: unknown } | null)?.message;
  if (Array.isArray(message)) return message.join('; ');
  if (typeof message === 'string' && message) return message;
  if (status === 429) return 'Too many requests; wait a moment and try again.';
  return `The server answered ${status}.`;
}
