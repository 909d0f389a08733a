import { createHash } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { FastifyInstance } from 'fastify';
import { errorResponseDoc } from '../common/api-docs.js';
import { errorBody } from '../common/http-exception.filter.js';

const DESCRIPTION = `REST for writes and reads; a WebSocket (\`GET /ws\`) only to say what changed.

Every \`/api/v1\` route but register, login and refresh needs \`Authorization: Bearer <accessToken>\`.
Register and login start a session: an access token, and a refresh token that \`POST /api/v1/auth/refresh\`
exchanges for a new pair (each refresh token works once; presenting a used one again ends the session).
Errors have one shape: \`{"statusCode", "error", "message"}\`. Unknown body fields and query
parameters are rejected with 400. Ids are opaque decimal strings; times are ISO-8601 in UTC.`;

const frame = (type: string, properties: Record<string, object> = {}, description?: string) => ({
  type: 'object',
  description,
  required: ['type', ...Object.keys(properties)],
  properties: { type: { type: 'string', enum: [type] }, ...properties },
});
const id = { type: 'string' };
const int = { type: 'integer' };
const messageFrame = (type: string, when: string) =>
  frame(type, { id, conversationId: id, seq: int, changeSeq: int }, when);

/** The socket's frames: OpenAPI cannot describe a WebSocket, so they are given as schemas. */
const FRAME_SCHEMAS = {
  ReadyFrame: frame('ready', { userId: id }, 'Once, after the connection is authenticated and subscribed'),
  MessageCreatedFrame: messageFrame('message.created', 'After a message is committed'),
  MessageUpdatedFrame: messageFrame('message.updated', 'After an edit'),
  MessageDeletedFrame: messageFrame('message.deleted', 'After a delete or a moderation removal'),
  ConversationUpdatedFrame: frame('conversation.updated', { conversationId: id }, 'Created, or its members or title changed'),
  ConversationReadFrame: frame(
    'conversation.read',
    { conversationId: id, userId: id, seq: int, lastReadSeq: int },
    "userId's read marker moved to seq: sent to that user's own sockets, and to the other members when it moved forward and userId shares read receipts. lastReadSeq is the receiving user's own marker (equal to seq on a frame about oneself)",
  ),
  ResyncFrame: frame('resync', {}, 'Notifications may have been missed: catch up as after a reconnect'),
  PongFrame: frame('pong', {}, 'The answer to {"type":"ping"}'),
  TokenExpiringFrame: frame(
    'token.expiring',
    { expiresAt: { type: 'string', format: 'date-time' } },
    'The socket’s access token expires at expiresAt: sent 60 s before (at once if less is left). Answer with an AuthFrame, or the socket is closed with 4401 then',
  ),
  TypingFrame: frame(
    'typing',
    { conversationId: id, userId: id },
    'Another member is typing: show it for 6 s after the last one; a message from that user ends it. At most one per user and conversation every 2 s',
  ),
  PresenceFrame: frame(
    'presence',
    {
      userId: id,
      status: { type: 'string', enum: ['online', 'offline'] },
      lastSeenAt: { type: 'string', format: 'date-time', nullable: true },
    },
    'A user who shares a conversation with the receiver came online or went offline (10 s after its last socket closed); lastSeenAt is null when it does not share its presence',
  ),
  PingFrame: frame('ping', {}, 'Sent by the client'),
  AuthFrame: frame(
    'auth',
    { accessToken: { type: 'string' } },
    'Sent by the client: a fresh access token of the same user, renewing the socket until that token expires. An invalid token, or another user’s, closes the socket with 4401',
  ),
  TypingClientFrame: frame(
    'typing',
    { conversationId: id },
    'Sent by the client while its user types: passed on to the other members (at most one per user and conversation every 2 s); ignored for a conversation the user is not in',
  ),
};

/** The frames a client sends, left out of what the socket answers. */
const CLIENT_FRAMES = ['PingFrame', 'AuthFrame', 'TypingClientFrame'];

const WS_DESCRIPTION = `Upgrades to a WebSocket that pushes JSON text frames (ids, never bodies) for every
conversation the user is a member of: see the \`*Frame\` schemas. Authenticate with
\`Authorization: Bearer <accessToken>\` or \`?ticket=<ticket>\` (from \`POST /api/v1/auth/ws-ticket\`).

Close codes: 1001 server shutting down (reconnect), 1003 binary frame, 1007 malformed frame,
1008 too many frames per second, 1009 frame too large, **4401 the access token expired without an
\`auth\` frame renewing it, its session ended (logout, revoked, a replayed refresh token), or the user was
deactivated or its tokens revoked** (do not reconnect with the same token: refresh it, or log in again),
4408 slow consumer.

While its user types, a client sends \`{"type": "typing", "conversationId"}\`; the other members get
\`{"type": "typing", "conversationId", "userId"}\` (at most one per user and conversation every 2 s). Users who
share a conversation get \`{"type": "presence", "userId", "status", "lastSeenAt"}\` when a user comes online or
goes offline.

A socket lives no longer than its access token: 60 s before the token expires the server sends
\`{"type": "token.expiring", "expiresAt"}\`; a client that answers \`{"type": "auth", "accessToken"}\` with a
fresh token of the same user keeps the socket until that token expires.`;

/** Routes not served by a Nest controller, described by hand so the document is complete. */
function addHandWrittenPaths(document: OpenAPIObject): void {
  const errors = (statuses: Record<string, string>) =>
    Object.fromEntries(Object.entries(statuses).map(([status, description]) => [status, { description }]));
  document.components ??= {};
  document.components.schemas = { ...document.components.schemas, ...FRAME_SCHEMAS };
  document.paths['/ws'] = {
    get: {
      operationId: 'notifications_socket',
      tags: ['notifications'],
      summary: 'The notification socket (WebSocket upgrade)',
      description: WS_DESCRIPTION,
      security: [{ bearer: [] }, {}],
      parameters: [
        { name: 'ticket', in: 'query', required: false, description: 'A single-use ticket, for browsers', schema: { type: 'string' } },
      ],
      responses: {
        '101': {
          description: 'Switching to the WebSocket protocol; frames as in the schemas',
          content: {
            'application/json': {
              schema: { oneOf: Object.keys(FRAME_SCHEMAS).filter((name) => !CLIENT_FRAMES.includes(name)).map((name) => ({ $ref: `#/components/schemas/${name}` })) },
            },
          },
        },
        ...errors({
          '400': 'Not a valid WebSocket handshake (key, version 13 or 8, headers)',
          '401': 'No valid access token or ticket',
          '403': 'Origin not in ALLOWED_ORIGINS',
          '429': 'The user holds too many sockets on this instance',
          '503': 'The database is unavailable; retry after Retry-After',
        }),
      },
    },
  };
  document.paths['/docs'] = {
    get: {
      operationId: 'docs_ui',
      tags: ['operations'],
      summary: 'This document, as Swagger UI',
      responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
    },
  };
  document.paths['/docs-json'] = {
    get: {
      operationId: 'docs_json',
      tags: ['operations'],
      summary: 'This document (OpenAPI 3, JSON)',
      responses: { '200': { description: 'The OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  };
}

/** Any call that takes a body may be refused for its size or type before its route runs. */
function addBodyErrors(document: OpenAPIObject): void {
  for (const path of Object.values(document.paths)) {
    for (const operation of [path.post, path.put, path.patch]) {
      if (!operation?.requestBody) continue;
      for (const status of [413, 415]) operation.responses[status] ??= errorResponseDoc(status);
    }
  }
}

/** The OpenAPI document, generated from the controllers' and DTOs' decorators. */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Parley')
    .setDescription(DESCRIPTION)
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'accessToken from register or login' }, 'bearer')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, for GET /metrics only' }, 'metrics')
    .addTag('auth')
    .addTag('users')
    .addTag('conversations')
    .addTag('messages')
    .addTag('attachments', 'Files and images: upload, then attach to a message with attachmentIds')
    .addTag('search')
    .addTag('notifications')
    .addTag('admin', 'Role admin; anyone else gets 403')
    .addTag('operations', 'Health, metrics and this document')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controllerKey, methodKey) => `${controllerKey.replace(/Controller$/, '')}_${methodKey}`,
  });
  addBodyErrors(document);
  addHandWrittenPaths(document);
  return document;
}

/**
 * What the /docs page loads from under /docs/: @nestjs/swagger serves the whole swagger-ui-dist
 * folder there (its package.json, README, the other bundles and their source maps), and
 * nothing but these is answered. `swagger-ui-init.js` is generated (it holds the document);
 * the HTML itself is served at /docs, /docs/ and /docs/index.html.
 */
export const DOCS_PAGE_FILES = [
  'index.html',
  'swagger-ui.css',
  'swagger-ui-bundle.js',
  'swagger-ui-standalone-preset.js',
  'swagger-ui-init.js',
  'favicon-16x16.png',
  'favicon-32x32.png',
];

const DOCS_PREFIX = '/docs/';
const DOCS_PAGE_PATHS = new Set(['', ...DOCS_PAGE_FILES].map((file) => DOCS_PREFIX + file));
const DOCS_HTML_PATHS = new Set(['/docs', '/docs/', '/docs/index.html']);

/** `GET /docs` (Swagger UI) and `GET /docs-json`. */
export function setupOpenApi(app: INestApplication): void {
  const document = createOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'Parley API',
    // Without the standalone layout's top bar: its logo is an SVG with a <style> of its own,
    // which the page's CSP refuses, and its "explore" box is hidden on this page anyway.
    swaggerOptions: { layout: 'BaseLayout' },
  });
  const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
  serveOnlyDocsPageFiles(fastify);
  allowDocsInlineStyles(fastify);
}

function serveOnlyDocsPageFiles(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!request.url.startsWith(DOCS_PREFIX)) return done();
    const path = request.url.split('?')[0];
    if (DOCS_PAGE_PATHS.has(path)) return done();
    // As any unknown route answers.
    void reply.code(404).send(errorBody(404, `Cannot ${request.method} ${path}`));
  });
}

/**
 * Swagger UI's HTML (written by @nestjs/swagger) holds two <style> blocks and one style
 * attribute, which the pages' `style-src 'self'` refuses: the /docs HTML gets a CSP that
 * allows exactly those, by hash, worked out from the HTML as sent (it is the same on every
 * request, so once). Swagger UI's own scripts set styles through the DOM, which CSP allows.
 */
function allowDocsInlineStyles(fastify: FastifyInstance): void {
  const policies = new Map<string, string>();
  fastify.addHook('onSend', (request, reply, payload, done) => {
    // Every response passes here: the cheap test first.
    if (!request.url.startsWith('/docs') || !DOCS_HTML_PATHS.has(request.url.split('?')[0])) return done(null, payload);
    const csp = reply.getHeader('content-security-policy');
    if (typeof payload !== 'string' || typeof csp !== 'string') return done(null, payload);
    let policy = policies.get(payload);
    if (policy === undefined) {
      policy = withInlineStyleHashes(csp, payload);
      policies.set(payload, policy);
    }
    reply.header('content-security-policy', policy);
    done(null, payload);
  });
}

/** `csp` with style-src allowing the <style> blocks of `html`, and style-src-attr its style attributes. */
export function withInlineStyleHashes(csp: string, html: string): string {
  const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
  const blocks = [...new Set([...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => hash(match[1])))];
  const attributes = [...new Set([...html.matchAll(/\sstyle="([^"]*)"/g)].map((match) => hash(match[1])))];
  let policy = csp.replace(/(^|;)style-src ([^;]*)/, (_, start: string, sources: string) => `${start}style-src ${[sources, ...blocks].join(' ')}`);
  if (attributes.length > 0) policy += `;style-src-attr 'unsafe-hashes' ${attributes.join(' ')}`;
  return policy;
}
