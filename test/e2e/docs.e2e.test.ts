import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
const NEXT_CONTRACT_COPY = path.resolve(import.meta.dirname, '../contract/API-next.md');
const SHARED_NEXT_CONTRACT = path.resolve(import.meta.dirname, '../../../shared/API-next.md');
const NEXT_CONTRACT = readFileSync(NEXT_CONTRACT_COPY, 'utf8');

/**
 * The sections of API-next.md (v1.1) whose issues have landed: only these are checked against
 * the document. A section joins this list with the change that builds it.
 */
const LANDED_NEXT_SECTIONS = ['A', 'B', 'C', 'D', 'E', 'F'];

const CALLS_WITH_BODIES = [
  'post /api/v1/auth/register',
  'post /api/v1/auth/login',
  'post /api/v1/auth/refresh',
  'post /api/v1/conversations',
  'post /api/v1/conversations/{id}/members',
  'post /api/v1/conversations/{id}/read',
  'patch /api/v1/conversations/{id}',
  'post /api/v1/messages',
  'post /api/v1/attachments',
  'patch /api/v1/messages/{id}',
  'patch /api/v1/users/me',
];

/** One `## X. Title` section of API-next.md, up to the next section. */
function nextSection(letter: string): string {
  const match = new RegExp(`^## ${letter}\\. [^\\n]*\\n([\\s\\S]*?)(?=^## |(?![\\s\\S]))`, 'm').exec(NEXT_CONTRACT);
  expect(match, `API-next.md has a section ${letter}`).not.toBeNull();
  return match![1];
}

describe('the contract copy', () => {
  it.skipIf(!existsSync(SHARED_CONTRACT))('is the shared ../shared/API.md, unchanged', () => {
    expect(CONTRACT).toBe(readFileSync(SHARED_CONTRACT, 'utf8'));
  });

  it.skipIf(!existsSync(SHARED_NEXT_CONTRACT))('is the shared ../shared/API-next.md, unchanged', () => {
    expect(NEXT_CONTRACT).toBe(readFileSync(SHARED_NEXT_CONTRACT, 'utf8'));
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
function contractRoutes(contract = CONTRACT): { method: string; path: string; query: string[] }[] {
  const routes = new Map<string, { method: string; path: string; query: string[] }>();
  for (const [, method, target] of contract.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`\s]*)/g)) {
    const [rawPath, queryString = ''] = target.split('?');
    const openApiPath = rawPath.replace(/:(\w+)/g, '{$1}');
    const query = [...queryString.matchAll(/(\w+)=/g)].map((m) => m[1]);
    const key = `${method} ${openApiPath}`;
    routes.set(key, { method: method.toLowerCase(), path: openApiPath, query: [...new Set([...(routes.get(key)?.query ?? []), ...query])] });
  }
  return [...routes.values()];
}

/** Body fields named in the contract's tables, by `METHOD /path` (several rows of a route merge). */
function contractBodies(contract = CONTRACT): Map<string, string[]> {
  const bodies = new Map<string, string[]>();
  for (const line of contract.split('\n').filter((l) => l.startsWith('|'))) {
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    const route = /`(GET|POST|PUT|PATCH|DELETE) ([^`\s?]+)[^`]*`/.exec(cells[0]);
    if (!route) continue;
    // The body is the middle column, or follows the route in the same cell (admin table).
    const region = [cells[0].slice(route.index + route[0].length), ...(cells.length > 2 ? cells.slice(1, -1) : [])].join(' ');
    // Code that is no body (a browser's `PushSubscription.toJSON()` naming where one comes from) is left out.
    const bodyText = [...region.matchAll(/`([^`]*)`/g)].map((m) => m[1]).filter((code) => !/^\w+(\.\w+)*\(\)$/.test(code)).join(' ');
    if (!bodyText.includes('{')) continue;
    // The top-level fields: a nested object's (`keys: {p256dh, auth}`) belong to its field.
    let topLevel = bodyText.replace(/"[^"]*"/g, '');
    for (let inner = topLevel; ; topLevel = inner) {
      inner = topLevel.replace(/(\{[^{}]*)\{[^{}]*\}/g, '$1');
      if (inner === topLevel) break;
    }
    const fields = topLevel.match(/[A-Za-z][A-Za-z0-9]*/g) ?? [];
    const key = `${route[1].toLowerCase()} ${route[2].replace(/:(\w+)/g, '{$1}')}`;
    bodies.set(key, [...new Set([...(bodies.get(key) ?? []), ...fields])]);
  }
  return bodies;
}

/**
 * The answer fields of each route in a v1.1 section's table (the last column, of two or
 * three), by `METHOD /path`: the fields of a `{a, b: [{c, d}]}` answer (nested lists as
 * `b[].c`), of a type named as the answer ("201 `attachment`", defined in the section or in
 * v1), the fields of a type of the v1 contract named alone ("200 `user`"), or the fields named
 * one by one in backticks ("as v1, plus `refreshToken` and `expiresAt`"). An answer of bytes
 * ("the bytes. `Range` gives 206 …") names none.
 */
function contractAnswers(section: string): Map<string, string[]> {
  const answers = new Map<string, string[]>();
  for (const line of section.split('\n').filter((l) => l.startsWith('|'))) {
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    if (cells.length < 2) continue;
    const answer = cells[cells.length - 1];
    const object = /`(\{.*\})`/.exec(answer);
    const type = /^\d{3} `([a-z]+)`/.exec(answer);
    const named = /^the bytes\b/.test(answer) ? [] : [...answer.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]);
    const fields = object
      ? answerFields(object[1])
      : type
        ? typeFields(type[1], section)
        : named.flatMap((name) => (CONTRACT.includes(`\`${name}\` = \``) ? contractFields(name) : [name]));
    if (fields.length === 0) continue;
    for (const [, method, route] of cells[0].matchAll(/`(GET|POST|PUT|PATCH|DELETE) ([^`\s?]+)[^`]*`/g)) {
      answers.set(`${method.toLowerCase()} ${route.replace(/:(\w+)/g, '{$1}')}`, fields);
    }
  }
  // A section without a table names its answers in prose: "`GET /path?x=` (…) answers `{…}`".
  for (const [, method, route, object] of section.matchAll(/`(GET|POST|PUT|PATCH|DELETE) ([^`\s?]+)[^`]*`[^`]*? answers `(\{[^`]*\})`/g)) {
    answers.set(`${method.toLowerCase()} ${route.replace(/:(\w+)/g, '{$1}')}`, answerFields(object));
  }
  return answers;
}

/** `{a, b: [{c, d}]}` → a, b, b[].c, b[].d */
function answerFields(text: string, prefix = ''): string[] {
  const inner = text.trim().replace(/^\{|\}$/g, '');
  const fields: string[] = [];
  let depth = 0;
  let start = 0;
  const parts: string[] = [];
  for (let i = 0; i <= inner.length; i++) {
    const char = inner[i];
    if (char === '{' || char === '[') depth++;
    if (char === '}' || char === ']') depth--;
    if ((char === ',' && depth === 0) || i === inner.length) {
      parts.push(inner.slice(start, i).trim());
      start = i + 1;
    }
  }
  for (const part of parts.filter(Boolean)) {
    const [name, value] = part.split(/:(.*)/s).map((piece) => piece?.trim());
    fields.push(prefix + name);
    const nested = value && /^\[(\{.*\})\]$/s.exec(value);
    if (nested) fields.push(...answerFields(nested[1], `${prefix}${name}[].`));
  }
  return fields;
}

/**
 * The socket frames a v1.1 section names: `{"type": "x", "field"}` → x: [field]. A frame named
 * twice (a client's and the server's `typing`) keeps the later, the server's.
 */
function contractFrames(section: string): Map<string, string[]> {
  const frames = new Map<string, string[]>();
  for (const [, type, rest] of section.matchAll(/`\{"type": "([\w.]+)"([^`]*)\}`/g)) {
    // `"status": "online" | "offline"` names the field, not the values.
    const fields = rest.replace(/:\s*"[^"]*"(\s*\|\s*"[^"]*")*/g, '');
    frames.set(type, [...fields.matchAll(/"(\w+)"/g)].map((m) => m[1]));
  }
  return frames;
}

/** The fields of a type the section defines ("`attachment` = `{…}`"), else v1 does. */
function typeFields(type: string, section: string): string[] {
  const defined = new RegExp('`' + type + '` = `(\\{[^`]*\\})`').exec(section);
  return defined ? answerFields(defined[1]) : contractFields(type);
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

/** Each route's operation, with its query and path parameters documented. */
function expectDocumented(routes: { method: string; path: string; query: string[] }[]): (Operation & { route: string })[] {
  return routes.map(({ method, path: routePath, query }) => {
    const operation = document.paths[routePath]?.[method];
    expect(operation, `${method.toUpperCase()} ${routePath}`).toBeDefined();
    const documented = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    for (const name of query) expect(documented, `${method.toUpperCase()} ${routePath} ?${name}`).toContain(name);
    for (const name of routePath.match(/\{(\w+)\}/g) ?? []) {
      expect(operation.parameters?.some((p) => p.in === 'path' && `{${p.name}}` === name), `${routePath} ${name}`).toBe(true);
    }
    return { ...operation, route: `${method} ${routePath}` };
  });
}

describe('/docs-json', () => {
  it('has every path of the contract with its methods and query parameters', () => {
    const routes = contractRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(27);
    for (const operation of expectDocumented(routes)) {
      expect(Object.keys(operation.responses).some((status) => /^[12]\d\d$/.test(status)), `${operation.route} success`).toBe(true);
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

  it('documents the 503 of login and registration when password hashing is at capacity', () => {
    for (const routePath of ['/api/v1/auth/login', '/api/v1/auth/register']) {
      const busy = document.paths[routePath].post!.responses['503'] as { description?: string };
      expect(busy.description, routePath).toMatch(/too many logins and registrations.*Retry-After/);
    }
  });

  it('documents 413 and 415 on every call that takes a body', () => {
    const withBodies = Object.entries(document.paths).flatMap(([routePath, operations]) =>
      Object.entries(operations).filter(([, operation]) => operation.requestBody).map(([method, operation]) => [`${method} ${routePath}`, operation] as const),
    );
    // The calls known to take a body must all be found (features add more).
    expect(withBodies.map(([route]) => route)).toEqual(expect.arrayContaining(CALLS_WITH_BODIES));
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
        const isPublic = ['/api/v1/auth/register', '/api/v1/auth/login', '/api/v1/auth/refresh'].includes(routePath);
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

/**
 * Section B in detail, beyond what LANDED_NEXT_SECTIONS checks of every section: the routes of
 * its table, and the fields its prose gives message and conversation.
 */
describe('/docs-json, API-next.md section B: reactions, threads, pins and mentions', () => {
  const table = () => nextSection('B').split('\n').filter((line) => line.startsWith('|')).join('\n');

  it('has every route of the table with its methods, parameters and answer fields', () => {
    const routes = contractRoutes(table());
    expect(routes.map((route) => `${route.method} ${route.path}`).sort()).toEqual([
      'delete /api/v1/conversations/{id}/pins/{messageId}',
      'delete /api/v1/messages/{id}/reactions/{emoji}',
      'get /api/v1/conversations/{id}/pins',
      'get /api/v1/messages/{id}/reactions/{emoji}',
      'get /api/v1/messages/{id}/thread',
      'put /api/v1/conversations/{id}/pins/{messageId}',
      'put /api/v1/messages/{id}/reactions/{emoji}',
    ]);
    for (const operation of expectDocumented(routes)) {
      expect(Object.keys(operation.responses).some((status) => /^2\d\d$/.test(status)), `${operation.route} success`).toBe(true);
    }
    const answers = contractAnswers(table());
    expect(answers.size).toBe(3);
    for (const [route, fields] of answers) {
      const [method, routePath] = route.split(' ');
      const schema = resolve(jsonResponse(method, routePath, '200'));
      for (const field of fields) expect(properties(schema), `${route} .${field}`).toContain(field);
    }
  });

  it('describes the fields message and conversation gain', () => {
    const message = resolve(jsonResponse('get', '/api/v1/messages/{id}', '200'));
    expect(properties(message)).toEqual(
      expect.arrayContaining(['reactions', 'replyToId', 'threadId', 'replyCount', 'lastReplyAt', 'mentionedUserIds', 'pinned']),
    );
    expect(properties(resolve(message.properties!.reactions).items)).toEqual(['emoji', 'count', 'reacted']);
    expect(properties(jsonResponse('get', '/api/v1/conversations/{id}', '200'))).toContain('mentionCount');
    const send = document.paths['/api/v1/messages'].post.requestBody!.content['application/json'].schema;
    expect(properties(send)).toContain('replyToId');
    // The conversation half: lastMessage, renaming a group, system messages.
    expect(properties(message)).toEqual(expect.arrayContaining(['kind', 'event']));
    expect(properties(resolve(message.properties!.event))).toEqual(expect.arrayContaining(['type', 'actorId', 'userIds', 'title']));
    const conversation = resolve(jsonResponse('get', '/api/v1/conversations/{id}', '200'));
    expect(properties(resolve(conversation.properties!.lastMessage))).toEqual(expect.arrayContaining(['id', 'seq', 'body', 'kind']));
    const rename = document.paths['/api/v1/conversations/{id}'].patch!;
    expect(properties(rename.requestBody!.content['application/json'].schema)).toEqual(['title']);
    expect(properties(jsonResponse('patch', '/api/v1/conversations/{id}', '200'))).toContain('lastMessage');
  });
});

describe('packages/client/openapi.json', () => {
  it('is the document the server serves: @parley/client’s types come from it (npm run build rewrites it)', () => {
    const packaged = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../packages/client/openapi.json'), 'utf8')) as Document;
    expect(packaged).toEqual(document);
  });
});

describe.each(LANDED_NEXT_SECTIONS)('/docs-json, API-next.md section %s', (letter) => {
  it('has every path of the section with its methods and query parameters', () => {
    const routes = contractRoutes(nextSection(letter));
    expect(routes.length).toBeGreaterThan(0);
    expectDocumented(routes);
  });

  it('documents every body field and answer field of the section', () => {
    for (const [route, fields] of contractBodies(nextSection(letter))) {
      const [method, routePath] = route.split(' ');
      const schema = document.paths[routePath]?.[method]?.requestBody?.content['application/json']?.schema;
      expect(schema, `${route} has a body`).toBeDefined();
      for (const field of fields) expect(properties(schema), `${route} .${field}`).toContain(field);
    }
    const answers = contractAnswers(nextSection(letter));
    expect(answers.size).toBeGreaterThan(0);
    for (const [route, fields] of answers) {
      const [method, routePath] = route.split(' ');
      const success = Object.keys(document.paths[routePath][method].responses).find((status) => /^2\d\d$/.test(status))!;
      const schema = resolve(jsonResponse(method, routePath, success));
      for (const field of fields) {
        const [list, nested] = field.split('[].');
        const documented = nested === undefined ? properties(schema) : properties(resolve(schema.properties![list]).items);
        expect(documented, `${route} .${field}`).toContain(nested ?? field);
      }
    }
  });

  it('documents every socket frame of the section with its fields', () => {
    const schemas = Object.values(document.components.schemas) as (Schema & { properties?: { type?: { enum?: string[] } } })[];
    for (const [type, fields] of contractFrames(nextSection(letter))) {
      const schema = schemas.find((candidate) => candidate.properties?.type?.enum?.[0] === type);
      expect(schema, `a frame schema for ${type}`).toBeDefined();
      for (const field of fields) expect(properties(schema), `${type} .${field}`).toContain(field);
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

  it('serves every file the page loads, and nothing else of swagger-ui-dist', async () => {
    for (const page of ['/docs', '/docs/']) {
      const html = (await app.http().get(page)).text;
      const loaded = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => new URL(match[1], `http://x${page}`).pathname);
      expect(loaded.length, page).toBeGreaterThanOrEqual(5);
      for (const path of loaded) expect((await app.http().get(path)).status, `${page} loads ${path}`).toBe(200);
    }
    const folder = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
    const present = readdirSync(folder);
    for (const file of ['package.json', 'README.md', 'LICENSE', 'swagger-ui-bundle.js.map', 'swagger-ui.css.map', 'swagger-ui.js.map', 'swagger-ui-es-bundle.js', 'absolute-path.js', 'oauth2-redirect.html', 'index.js']) {
      expect(present, `swagger-ui-dist still has ${file}`).toContain(file);
      const response = await app.http().get(`/docs/${file}`);
      expect(response.status, file).toBe(404);
      expect(response.body).toEqual({ statusCode: 404, error: 'Not Found', message: `Cannot GET /docs/${file}` });
    }
    // Spelled otherwise, still not served.
    for (const url of ['/docs/%70ackage.json', '/docs//package.json', '/docs/./package.json', '/docs/swagger-ui.css.map?x=1']) {
      expect((await app.http().get(url)).status, url).toBe(404);
    }
  });

  it('allows only its own inline styles, by hash, in its Content-Security-Policy', async () => {
    const response = await app.http().get('/docs');
    const policy = new Map(String(response.headers['content-security-policy']).split(';').map((directive) => {
      const [name, ...sources] = directive.trim().split(/\s+/);
      return [name, sources] as const;
    }));
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    const blocks = [...response.text.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => hash(match[1]));
    const attributes = [...response.text.matchAll(/\sstyle="([^"]*)"/g)].map((match) => hash(match[1]));
    expect(blocks.length).toBeGreaterThan(0);
    expect(policy.get('style-src')).toEqual(["'self'", ...new Set(blocks)]);
    expect(policy.get('style-src-attr')).toEqual(["'unsafe-hashes'", ...new Set(attributes)]);
    expect(policy.get('script-src')).toEqual(["'self'"]);
    for (const directive of ['style-src', 'style-src-attr']) expect(policy.get(directive)!.join(' ')).not.toMatch(/unsafe-inline|https:/);
  });
});
