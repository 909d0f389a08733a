import { createSecretKey } from 'node:crypto';
import { UnauthorizedException } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenService } from '../../src/auth/token.service.js';
import { VerifiedTokens } from '../../src/common/hot-path/verified-tokens.js';

describe('VerifiedTokens', () => {
  it('answers until the expiry second, as jsonwebtoken counts it', () => {
    const tokens = new VerifiedTokens<string>(10);
    tokens.add('t', 'claims', 100);
    expect(tokens.get('t', 99_999)).toBe('claims');
    expect(tokens.get('t', 100_000)).toBeUndefined();
    expect(tokens.size).toBe(0);
  });

  it('keeps no token without an expiry, and forgets the oldest when full', () => {
    const tokens = new VerifiedTokens<string>(2);
    tokens.add('forever', 'x', undefined);
    tokens.add('a', 'A', 1e12);
    tokens.add('b', 'B', 1e12);
    tokens.add('c', 'C', 1e12);
    expect([tokens.get('forever'), tokens.get('a'), tokens.get('b'), tokens.get('c')]).toEqual([undefined, undefined, 'B', 'C']);
    expect(tokens.size).toBe(2);
  });
});

describe('TokenService.verify with remembered tokens', () => {
  const secret = createSecretKey(Buffer.from('a-test-secret-of-enough-length'));
  const jwt = new JwtService({ secret, signOptions: { algorithm: 'HS256' }, verifyOptions: { algorithms: ['HS256'] } });
  const service = () => new TokenService(jwt, undefined as never, undefined as never, undefined as never);

  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('checks a signature once, then rejects the same token once it has expired', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z'), toFake: ['Date'] });
    const tokens = service();
    const token = await jwt.signAsync({ sub: '7', tv: 2, sid: '5' }, { expiresIn: 60 });
    const verify = vi.spyOn(jwt, 'verifyAsync');

    const caller = { id: '7', tokenVersion: 2, sessionId: '5', expiresAt: Date.parse('2026-01-01T00:01:00Z') / 1000 };
    expect(await tokens.verify(token)).toEqual(caller);
    expect(await tokens.verify(token)).toEqual(caller);
    expect(verify).toHaveBeenCalledTimes(1);

    vi.setSystemTime(new Date('2026-01-01T00:01:00Z'));
    await expect(tokens.verify(token)).rejects.toBeInstanceOf(UnauthorizedException);
  });

  it('does not take a token with another signature for a remembered one', async () => {
    const tokens = service();
    const token = await jwt.signAsync({ sub: '7', tv: 2, sid: '5' }, { expiresIn: 60 });
    await tokens.verify(token);
    const [header, payload, signature] = token.split('.');
    const forged = [header, payload, signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA')].join('.');
    await expect(tokens.verify(forged)).rejects.toBeInstanceOf(UnauthorizedException);
  });

  it('hands each caller its own object', async () => {
    const tokens = service();
    const token = await jwt.signAsync({ sub: '7', tv: 2, sid: '5' }, { expiresIn: 60 });
    const first = await tokens.verify(token);
    first.tokenVersion = 99;
    expect(await tokens.verify(token)).toMatchObject({ id: '7', tokenVersion: 2, sessionId: '5' });
  });
});
