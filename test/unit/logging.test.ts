import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACTION, requestIdFor, withoutSecrets } from '../../src/logging/logging.js';

describe('request ids', () => {
  it('keeps a well-formed X-Request-Id and replaces anything else with a UUID', () => {
    expect(requestIdFor({ headers: { 'x-request-id': 'edge-1234:abc.def_9' } })).toBe('edge-1234:abc.def_9');
    for (const given of [undefined, '', 'has space', 'x'.repeat(129), 'line\nbreak', '{"json":1}']) {
      expect(requestIdFor({ headers: { 'x-request-id': given } })).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });
});

describe('URLs in logs', () => {
  it('masks credentials in query strings and leaves the rest', () => {
    expect(withoutSecrets('/ws?ticket=abc123')).toBe('/ws?ticket=[Redacted]');
    expect(withoutSecrets('/x?a=1&token=t0k&b=2&access_token=z&password=p#frag')).toBe(
      '/x?a=1&token=[Redacted]&b=2&access_token=[Redacted]&password=[Redacted]#frag',
    );
    expect(withoutSecrets('/api/v1/users?q=ticket')).toBe('/api/v1/users?q=ticket');
    // Found by probing: the API's own field name, and common names for keys, went out in clear.
    expect(withoutSecrets('/x?accessToken=a&api_key=b&apikey=c&jwt=d&secret=e&q=f')).toBe(
      '/x?accessToken=[Redacted]&api_key=[Redacted]&apikey=[Redacted]&jwt=[Redacted]&secret=[Redacted]&q=f',
    );
  });
});

describe('credentials in logged objects', () => {
  it('masks credential headers and secret keys at the top or one level down, and leaves the rest', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    const logger = pino({ redact: REDACTION }, sink);
    logger.info({
      req: { method: 'GET', headers: { authorization: 'Bearer abc', cookie: 'c=1', 'sec-websocket-protocol': 'p', accept: '*/*' } },
      res: { headers: { 'set-cookie': 's=1' } },
      user: { id: '7', password: 'pw', passwordHash: 'h' },
      session: { accessToken: 'at', token: 't', ticket: 'tk' },
      password: 'top-level',
      token: 'top-level',
    });
    const line = JSON.parse(lines[0]);
    expect(line.req).toEqual({
      method: 'GET',
      headers: { authorization: '[Redacted]', cookie: '[Redacted]', 'sec-websocket-protocol': '[Redacted]', accept: '*/*' },
    });
    expect(line.res.headers['set-cookie']).toBe('[Redacted]');
    expect(line.user).toEqual({ id: '7', password: '[Redacted]', passwordHash: '[Redacted]' });
    expect(line.session).toEqual({ accessToken: '[Redacted]', token: '[Redacted]', ticket: '[Redacted]' });
    expect([line.password, line.token]).toEqual(['[Redacted]', '[Redacted]']);
    expect(lines[0]).not.toMatch(/Bearer abc|"pw"|top-level/);
  });
});
