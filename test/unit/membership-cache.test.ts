import { describe, expect, it } from 'vitest';
import { MembershipCache } from '../../src/typing/membership-cache.js';
import { PassOnLimiter } from '../../src/typing/pass-on-limiter.js';

/** A loader that counts its reads and answers what `members` holds when it is called. */
function countingLoader(members: Map<string, string[]>) {
  const loader = Object.assign(
    async (conversationId: string) => {
      loader.reads++;
      return [...(members.get(conversationId) ?? [])];
    },
    { reads: 0 },
  );
  return loader;
}

describe('MembershipCache', () => {
  it('reads a conversation once per membership version, however many signals name it', async () => {
    const members = new Map([['7', ['1', '2']]]);
    const load = countingLoader(members);
    const cache = new MembershipCache(load);
    const lookups = await Promise.all(Array.from({ length: 50 }, () => cache.members('7', 'v1')));
    for (let i = 0; i < 50; i++) lookups.push(await cache.members('7', 'v1'));
    expect(load.reads).toBe(1);
    expect(lookups.every((set) => set.has('1') && set.has('2'))).toBe(true);

    members.set('7', ['1']);
    expect([...(await cache.members('7', 'v2'))]).toEqual(['1']);
    expect(load.reads).toBe(2);
  });

  it('never takes a list read at an older version for the current one', async () => {
    const members = new Map([['7', ['1', '2']]]);
    let release: () => void = () => undefined;
    const slow = async (conversationId: string) => {
      const answer = [...(members.get(conversationId) ?? [])];
      await new Promise<void>((resolve) => (release = resolve));
      return answer;
    };
    const cache = new MembershipCache(slow);
    // A read at v1 starts, the membership changes (v2), then the old read finishes.
    const old = cache.members('7', 'v1');
    members.set('7', ['1']);
    release();
    await old;
    const current = cache.members('7', 'v2');
    release();
    expect([...(await current)]).toEqual(['1']);
  });

  it('reads from the database and keeps nothing when the version is unknown, and forgets on clear', async () => {
    const load = countingLoader(new Map([['7', ['1']]]));
    const cache = new MembershipCache(load);
    await cache.members('7', null);
    await cache.members('7', null);
    expect(load.reads).toBe(2);
    expect(cache.size).toBe(0);
    await cache.members('7', 'v1');
    cache.clear();
    await cache.members('7', 'v1');
    expect(load.reads).toBe(4);
  });

  it('keeps at most its limit of conversations, dropping the least recently used', async () => {
    const load = countingLoader(new Map());
    const cache = new MembershipCache(load, 2);
    await cache.members('1', 'v');
    await cache.members('2', 'v');
    await cache.members('1', 'v');
    await cache.members('3', 'v');
    expect(cache.size).toBe(2);
    await cache.members('1', 'v');
    expect(load.reads).toBe(3);
    await cache.members('2', 'v');
    expect(load.reads).toBe(4);
  });
});

describe('PassOnLimiter', () => {
  it('passes a key once per interval, and honours a block set from elsewhere', () => {
    const limiter = new PassOnLimiter(2000);
    expect(limiter.tryPass('a', 0)).toBe(true);
    expect(limiter.tryPass('a', 1999)).toBe(false);
    expect(limiter.tryPass('b', 1999)).toBe(true);
    expect(limiter.tryPass('a', 2000)).toBe(true);
    limiter.block('c', 5000, 2000);
    expect(limiter.blocked('c', 4999)).toBe(true);
    expect(limiter.tryPass('c', 5000)).toBe(true);
  });
});
