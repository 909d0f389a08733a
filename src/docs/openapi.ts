import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { errorResponseDoc } from '../common/api-docs.js';

const DESCRIPTION = `REST for writes and reads; a WebSocket (\`GET /ws\`) only to say what changed.

Every \`/api/v1\` route but register and login needs \`Authorization: Bearer <accessToken>\`.
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
  ConversationUpdatedFrame: frame('conversation.updated', { conversationId: id }, 'Created, or membership changed'),
  ConversationReadFrame: frame('conversation.read', { conversationId: id, lastReadSeq: int }, "The caller's own read marker moved"),
  ResyncFrame: frame('resync', {}, 'Notifications may have been missed: catch up as after a reconnect'),
  PongFrame: frame('pong', {}, 'The answer to {"type":"ping"}'),
  PingFrame: frame('ping', {}, 'Sent by the client'),
};

const WS_DESCRIPTION = `Upgrades to a WebSocket that pushes JSON text frames (ids, never bodies) for every
conversation the user is a member of: see the \`*Frame\` schemas. Authenticate with
\`Authorization: Bearer <accessToken>\` or \`?ticket=<ticket>\` (from \`POST /api/v1/auth/ws-ticket\`).

Close codes: 1001 server shutting down (reconnect), 1003 binary frame, 1007 malformed frame,
1008 too many frames per second, 1009 frame too large, **4401 the user was deactivated or its
tokens revoked** (do not reconnect with the same token), 4408 slow consumer.`;

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
              schema: { oneOf: Object.keys(FRAME_SCHEMAS).filter((name) => name !== 'PingFrame').map((name) => ({ $ref: `#/components/schemas/${name}` })) },
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
    .addTag('auth')
    .addTag('users')
    .addTag('conversations')
    .addTag('messages')
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

/** `GET /docs` (Swagger UI) and `GET /docs-json`. */
export function setupOpenApi(app: INestApplication): void {
  const document = createOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', customSiteTitle: 'Parley API' });
}
