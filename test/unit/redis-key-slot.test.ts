import { describe, expect, it } from 'vitest';
import { keySlot } from '../../src/redis/redis-key-slot.js';
import { presenceKeyBase } from '../../src/presence/redis-presence-store.js';

describe('keySlot', () => {
  it('is CRC16 (XMODEM) modulo 16384, as Redis Cluster hashes keys', () => {
    // The check value of the Redis Cluster specification: CRC16 of "123456789" is 0x31C3.
    expect(keySlot('123456789')).toBe(0x31c3);
    // As `CLUSTER KEYSLOT` answers on Redis 7.
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('bar')).toBe(5061);
    expect(keySlot('')).toBe(0);
    // Of the UTF-8 bytes, not of UTF-16 code units.
    expect(keySlot('parley:u:é')).toBe(14432);
    expect(keySlot('parley:u:0b6a4f36-7c1e-4c3a-9c1e-2f1d8a2e9b10')).toBe(12628);
  });

  it('hashes only the hash tag when a key has one', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('{user1000}.followers')).toBe(keySlot('{user1000}.following'));
    // The first `{` and the first `}` after it; an empty tag hashes the whole key.
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
  });

  it('puts every presence key of an installation in one slot, and typing keys by conversation', () => {
    const base = presenceKeyBase('parley');
    const keys = ['instances', 'online', 'grace', 'last-seen', 'sockets:5a1c'].map((name) => `${base}:${name}`);
    expect(new Set(keys.map(keySlot)).size).toBe(1);
    expect(keySlot('parley:typing:u1:{c1}')).toBe(keySlot('parley:members:{c1}'));
  });
});
