import { describe, expect, it } from 'vitest';
import { requestIdFor, withoutSecrets } from '../../src/logging/logging.js';

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
  });
});
