import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';

/**
 * The public contract, as the repository carries it, so that a clone tests against it on any
 * machine. Where the shared original is beside the checkout (as in CI), the copy must match it.
 */
const CONTRACT_COPY = path.resolve(import.meta.dirname, '../contract/API.md');
const SHARED_CONTRACT = path.resolve(import.meta.dirname, '../../../shared/API.md');
const CONTRACT = readFileSync(CONTRACT_COPY, 'utf8');

describe('the contract copy', () => {
  it.skipIf(!existsSync(SHARED_CONTRACT))('is the shared ../shared/API.md, unchanged', () => {
    expect(CONTRACT).toBe(readFileSync(SHARED_CONTRACT, 'utf8'));
  });
});

type Schema = { $ref?: string; properties?: Record<string, Schema>; allOf?: Schema[]; items?: Schema };
type Operation = {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  security?: object[];
};
type Document = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes?: Record<string, { scheme?: string }> };
};

let app: TestApp;
let document: Document;

beforeAll(async () => {
  app = await startApp();
  const response = await app.http().get('/docs-json');
  expect(response.status).toBe(200);
  document = response.body;
});

afterAll(async () => {
  await app.close();
});

/** `METHOD /path?query=` as written in the contract, with `:param` as OpenAPI's `{param}`. */
function contractRoutes(): { method: string; path: string; query: string[] }[] {
  const routes = new Map<string, { method: string; path: string; query: string[] }>();
  for (const [, method, target] of CONTRACT.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`\s]*)/g)) {
    const [rawPath, queryString = ''] = target.split('?');
    const openApiPath = rawPath.replace(/:(\w+)/g, '{$1}');
    const query = [...queryString.matchAll(/(\w+)=/g)].map((m) => m[1]);
    const key = `${method} ${openApiPath}`;
    routes.set(key, { method: method.toLowerCase(), path: openApiPath, query: [...new Set([...(routes.get(key)?.query ?? []), ...query])] });
  }
  return [...routes.values()];
}

/** Body fields named in the contract's tables, by `METHOD /path` (several rows of a route merge). */
function contractBodies(): Map<string, string[]> {
  const bodies = new Map<string, string[]>();
  for (const line of CONTRACT.split('\n').filter((l) => l.startsWith('|'))) {
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    const route = /`(GET|POST|PUT|PATCH|DELETE) ([^`\s?]+)[^`]*`/.exec(cells[0]);
    if (!route) continue;
    // The body is the middle column, or follows the route in the same cell (admin table).
    const region = [cells[0].slice(route.index + route[0].length), ...(cells.length > 2 ? cells.slice(1, -1) : [])].join(' ');
    const bodyText = [...region.matchAll(/`([^`]*)`/g)].map((m) => m[1]).join(' ');
    if (!bodyText.includes('{')) continue;
    const fields = bodyText.replace(/"[^"]*"/g, '').match(/[A-Za-z]+/g) ?? [];
    const key = `${route[1].toLowerCase()} ${route[2].replace(/:(\w+)/g, '{$1}')}`;
    bodies.set(key, [...new Set([...(bodies.get(key) ?? []), ...fields])]);
  }
  return bodies;
}

/** The fields of a contract type, e.g. "`message` = `{id, conversationId, …}`". */
function contractFields(type: string): string[] {
  const match = new RegExp('`' + type + '` = `\\{([^}]*)\\}`').exec(CONTRACT);
  expect(match, `the contract defines ${type}`).not.toBeNull();
  return match![1].split(',').map((field) => field.trim());
}

function resolve(schema: Schema): Schema {
  if (schema.$ref) return resolve(document.components.schemas[schema.$ref.split('/').pop()!]);
  if (schema.allOf) return { properties: Object.assign({}, ...schema.allOf.map((part) => resolve(part).properties)) };
  return schema;
}

function properties(schema: Schema | undefined): string[] {
  return Object.keys(schema ? (resolve(schema).properties ?? {}) : {});
}

function jsonResponse(method: string, routePath: string, status: string): Schema {
  const schema = document.paths[routePath][method].responses[status]?.content?.['application/json']?.schema;
  expect(schema, `${method} ${routePath} documents a ${status} body`).toBeDefined();
  return schema!;
}

describe('/docs-json', () => {
  it('has every path of the contract with its methods and query parameters', () => {
    const routes = contractRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(27);
    for (const { method, path: routePath, query } of routes) {
      const operation = document.paths[routePath]?.[method];
      expect(operation, `${method.toUpperCase()} ${routePath}`).toBeDefined();
      const documented = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      for (const name of query) expect(documented, `${method.toUpperCase()} ${routePath} ?${name}`).toContain(name);
      for (const name of routePath.match(/\{(\w+)\}/g) ?? []) {
        expect(operation.parameters?.some((p) => p.in === 'path' && `{${p.name}}` === name), `${routePath} ${name}`).toBe(true);
      }
      expect(Object.keys(operation.responses).some((status) => /^[12]\d\d$/.test(status)), `${method} ${routePath} success`).toBe(true);
    }
  });

  it('documents the extra changes feed', () => {
    const changes = document.paths['/api/v1/conversations/{id}/changes']?.get;
    expect(changes?.parameters?.map((p) => p.name)).toEqual(expect.arrayContaining(['id', 'since', 'limit']));
    expect(properties(jsonResponse('get', '/api/v1/conversations/{id}/changes', '200'))).toEqual(
      expect.arrayContaining(['items', 'hasMore', 'lastChangeSeq']),
    );
  });

  it('documents every body field of the contract', () => {
    const bodies = contractBodies();
    expect([...bodies.keys()].sort()).toEqual([
      'patch /api/v1/admin/users/{id}',
      'patch /api/v1/messages/{id}',
      'post /api/v1/auth/login',
      'post /api/v1/auth/register',
      'post /api/v1/conversations',
      'post /api/v1/conversations/{id}/members',
      'post /api/v1/conversations/{id}/read',
      'post /api/v1/messages',
    ]);
    for (const [route, fields] of bodies) {
      const [method, routePath] = route.split(' ');
      const schema = document.paths[routePath]?.[method]?.requestBody?.content['application/json']?.schema;
      expect(schema, `${route} has a body`).toBeDefined();
      const documented = properties(schema);
      for (const field of fields) expect(documented, `${route} .${field}`).toContain(field);
    }
  });

  it('describes the contract’s user, conversation and message, and the admin views', () => {
    expect(properties(jsonResponse('get', '/api/v1/users/me', '200'))).toEqual(expect.arrayContaining(contractFields('user')));
    expect(properties(jsonResponse('get', '/api/v1/conversations/{id}', '200'))).toEqual(
      expect.arrayContaining(contractFields('conversation')),
    );
    expect(properties(jsonResponse('get', '/api/v1/messages/{id}', '200'))).toEqual(expect.arrayContaining(contractFields('message')));
    const adminUsers = resolve(jsonResponse('get', '/api/v1/admin/users', '200'));
    expect(properties(adminUsers.properties!.items.items)).toEqual(
      expect.arrayContaining([...contractFields('user'), 'role', 'active', 'lastSeenAt', 'messageCount']),
    );
    expect(properties(jsonResponse('get', '/api/v1/admin/stats', '200'))).toEqual(
      expect.arrayContaining(['users', 'conversations', 'messages', 'messagesLast24h', 'connections']),
    );
  });

  it('documents every refusal of a WebSocket handshake', () => {
    expect(Object.keys(document.paths['/ws'].get!.responses).sort()).toEqual(['101', '400', '401', '403', '429', '503']);
  });

  it('documents 413 and 415 on every call that takes a body', () => {
    const withBodies = Object.entries(document.paths).flatMap(([routePath, operations]) =>
      Object.entries(operations).filter(([, operation]) => operation.requestBody).map(([method, operation]) => [`${method} ${routePath}`, operation] as const),
    );
    expect(withBodies.length).toBe(8);
    for (const [route, operation] of withBodies) {
      expect(operation.responses['413'], route).toBeDefined();
      expect(operation.responses['415'], route).toBeDefined();
    }
  });

  it('documents errors in the contract’s shape and bearer authentication', () => {
    expect(document.components.securitySchemes?.bearer?.scheme).toBe('bearer');
    expect(properties({ $ref: '#/components/schemas/ErrorResponse' })).toEqual(['statusCode', 'error', 'message']);
    for (const [routePath, operations] of Object.entries(document.paths)) {
      if (!routePath.startsWith('/api/v1/')) continue;
      for (const [method, operation] of Object.entries(operations)) {
        const isPublic = routePath === '/api/v1/auth/register' || routePath === '/api/v1/auth/login';
        if (!isPublic) {
          expect(operation.security, `${method} ${routePath} security`).toEqual([{ bearer: [] }]);
          expect(operation.responses['401'], `${method} ${routePath} 401`).toBeDefined();
        }
        if (routePath.startsWith('/api/v1/admin/')) expect(operation.responses['403'], `${method} ${routePath} 403`).toBeDefined();
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) < 400) continue;
          expect(response.content?.['application/json']?.schema, `${method} ${routePath} ${status}`).toEqual({
            $ref: '#/components/schemas/ErrorResponse',
          });
        }
      }
    }
  });
});

describe('/docs', () => {
  it('serves Swagger UI', async () => {
    const response = await app.http().get('/docs');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.text).toContain('swagger-ui');
  });
});
