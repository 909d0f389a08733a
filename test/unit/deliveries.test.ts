import { createHmac, pbkdf2 } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  addressResolver,
  checkDestination,
  dnsResolver,
  isPublicAddress,
  KeptAnswers,
  LookupsBusy,
  LookupSlots,
  parseWebhookUrl,
} from '../../src/deliveries/destination.js';
import { retryDelayMs } from '../../src/deliveries/retry-policy.js';
import { signature } from '../../src/webhooks/webhook-post.js';
import { TestDnsServer } from '../support/dns-server.js';
import { whileLookupsBusy } from '../support/lookups-busy.js';

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['93.184.216.34', true],
    ['2606:4700::1111', true],
    ['127.0.0.1', false],
    ['127.255.0.9', false],
    ['0.0.0.0', false],
    ['10.0.0.1', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['172.32.0.1', true],
    ['192.168.0.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['224.0.0.251', false],
    ['255.255.255.255', false],
    ['::', false],
    ['::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:8.8.8.8', false],
    ['64:ff9b::a00:1', false],
    ['fc00::1', false],
    ['fd12:3456::1', false],
    ['fe80::1', false],
    ['ff02::1', false],
    ['not an address', false],
  ])('%s → %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('parseWebhookUrl', () => {
  const strict = { allowHttp: false, allowPrivate: false };
  it('reads other spellings of an address as the address', () => {
    expect(parseWebhookUrl('https://2130706433/x', strict).hostname).toBe('127.0.0.1');
    expect(parseWebhookUrl('https://0x7f.1/x', strict).hostname).toBe('127.0.0.1');
    expect(parseWebhookUrl('https://[::ffff:127.0.0.1]/x', strict).hostname).toBe('[::ffff:7f00:1]');
  });

  it('takes https, and http only where allowed', () => {
    expect(() => parseWebhookUrl('http://example.com/', strict)).toThrow('url must be https');
    expect(parseWebhookUrl('http://example.com/', { ...strict, allowHttp: true }).protocol).toBe('http:');
    expect(() => parseWebhookUrl('file:///etc/passwd', { ...strict, allowHttp: true })).toThrow('url must be http or https');
  });
});

describe('KeptAnswers (the deliveries\' lookups)', () => {
  const strict = { allowHttp: false, allowPrivate: false };
  const realResolve = addressResolver.resolve;
  afterEach(() => {
    addressResolver.resolve = realResolve;
  });

  /** Stands in for DNS, answering what `answer` says at the time; how many lookups it had. */
  function dns(answer: (hostname: string) => string[] | Error, delayMs = 5): () => number {
    let lookups = 0;
    addressResolver.resolve = async (hostname) => {
      lookups++;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const addresses = answer(hostname);
      if (addresses instanceof Error) throw addresses;
      return addresses.map((address) => ({ address, family: 4 }));
    };
    return () => lookups;
  }

  it('resolves a name once for every delivery asking meanwhile, and again only after 10 s', async () => {
    let clock = 0;
    const answers = new KeptAnswers(() => clock);
    const lookups = dns(() => ['93.184.216.34']);
    const checked = await Promise.all(Array.from({ length: 50 }, () => checkDestination('https://hooks.example/hook', strict, answers)));
    expect(lookups()).toBe(1);
    expect(new Set(checked.map((destination) => destination.pinned?.address))).toEqual(new Set(['93.184.216.34']));
    clock += 9_999;
    await checkDestination('https://hooks.example/other', strict, answers);
    expect(lookups()).toBe(1);
    clock += 2;
    await checkDestination('https://hooks.example/hook', strict, answers);
    expect(lookups()).toBe(2);
  });

  it('checks a renewed answer like the first: a name moved to 127.0.0.1 is refused', async () => {
    let clock = 0;
    const answers = new KeptAnswers(() => clock);
    let address = '93.184.216.34';
    dns(() => [address]);
    expect((await checkDestination('https://rebinding.example/hook', strict, answers)).pinned?.address).toBe('93.184.216.34');
    address = '127.0.0.1';
    clock += 10_001;
    await expect(checkDestination('https://rebinding.example/hook', strict, answers)).rejects.toThrow('non-public address (127.0.0.1)');
  });

  it('keeps no failed or empty answer', async () => {
    const answers = new KeptAnswers(() => 0);
    let answer: string[] | Error = new Error('ENOTFOUND');
    const lookups = dns(() => answer);
    await expect(checkDestination('https://flaky.example/hook', strict, answers)).rejects.toThrow('could not be resolved');
    answer = [];
    await expect(checkDestination('https://flaky.example/hook', strict, answers)).rejects.toThrow('could not be resolved');
    answer = ['93.184.216.34'];
    await checkDestination('https://flaky.example/hook', strict, answers);
    await checkDestination('https://flaky.example/hook', strict, answers);
    expect(lookups()).toBe(3);
  });

  it('keeps the answers of at most 1,024 names, dropping the least recently resolved', async () => {
    const answers = new KeptAnswers(() => 0);
    const lookups = dns(() => ['93.184.216.34'], 0);
    for (let i = 0; i <= 1024; i++) await answers.resolve(`host-${i}.example`);
    expect(lookups()).toBe(1025);
    await answers.resolve('host-1024.example');
    expect(lookups()).toBe(1025);
    await answers.resolve('host-0.example');
    expect(lookups()).toBe(1026);
  });
});

describe('LookupSlots', () => {
  /** A lookup that ends when told to. */
  function pending(): { promise: Promise<string>; end: (error?: Error) => void } {
    let end!: (error?: Error) => void;
    const promise = new Promise<string>((resolve, reject) => (end = (error) => (error ? reject(error) : resolve('answer'))));
    return { promise, end };
  }

  it('runs at most its size at once, and the next as one ends, in order, a failed one too', async () => {
    const slots = new LookupSlots(2, 10_000);
    const lookups = [pending(), pending(), pending(), pending()];
    const started: number[] = [];
    const runs = lookups.map((lookup, i) => slots.run(() => (started.push(i), lookup.promise)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1]);
    lookups[1].end(new Error('ENOTFOUND'));
    await expect(runs[1]).rejects.toThrow('ENOTFOUND');
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1, 2]);
    lookups[0].end();
    await runs[0];
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1, 2, 3]);
    lookups[2].end();
    lookups[3].end();
    expect(await Promise.all([runs[2], runs[3]])).toEqual(['answer', 'answer']);
    // Every slot free again: two start at once.
    const more = [pending(), pending()];
    const again: number[] = [];
    const moreRuns = more.map((lookup, i) => slots.run(() => (again.push(i), lookup.promise)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(again).toEqual([0, 1]);
    more.forEach((lookup) => lookup.end());
    await Promise.all(moreRuns);
  });

  it('refuses a lookup that waited its whole time for a slot, which never runs, and keeps the others going', async () => {
    const slots = new LookupSlots(1, 30);
    const hanging = pending();
    const first = slots.run(() => hanging.promise);
    let ran = false;
    await expect(slots.run(async () => ((ran = true), 'late'))).rejects.toBeInstanceOf(LookupsBusy);
    expect(ran).toBe(false);
    hanging.end();
    await first;
    expect(await slots.run(async () => 'next')).toBe('next');
  });

  it('makes checkDestination pass the refusal on as it is, not as a name that could not be resolved', async () => {
    await whileLookupsBusy(async () => {
      await expect(checkDestination('https://hooks.example/hook', { allowHttp: false, allowPrivate: false })).rejects.toBeInstanceOf(LookupsBusy);
    });
  });
});

describe('the lookups of a client\'s host names (against a DNS server of the test\'s own)', () => {
  const strict = { allowHttp: false, allowPrivate: false };
  const dns = new TestDnsServer({ 'hooks.test': '93.184.216.34', 'inside.test': '10.0.0.7' }, (name) => name.endsWith('.silent.test'));
  const systemServers = dnsResolver.getServers();

  beforeAll(async () => dnsResolver.setServers([await dns.listen()]));
  afterAll(async () => {
    dnsResolver.setServers(systemServers);
    await dns.close();
  });

  it('resolves a name through DNS and checks what it answered', async () => {
    expect((await checkDestination('https://hooks.test/hook', strict)).pinned).toEqual({ address: '93.184.216.34', family: 4 });
    await expect(checkDestination('https://inside.test/hook', strict)).rejects.toThrow('non-public address (10.0.0.7)');
    await expect(checkDestination('https://nothing-here.test/hook', strict)).rejects.toThrow('could not be resolved');
  });

  it('takes localhost for loopback without asking DNS', async () => {
    await expect(checkDestination('https://localhost/hook', strict)).rejects.toThrow('non-public address (127.0.0.1)');
    await expect(checkDestination('https://api.localhost./hook', strict)).rejects.toThrow('non-public address (127.0.0.1)');
    expect(dns.asked.has('localhost')).toBe(false);
  });

  it('holds back neither other lookups nor file reads and crypto while names whose DNS never answers wait', async () => {
    // More than libuv's four threads, which getaddrinfo would each hold until DNS gave up.
    let given = 0;
    const stuck = Array.from({ length: 8 }, (_, i) =>
      checkDestination(`https://bot-${i}.silent.test/hook`, strict).then(
        () => 'resolved',
        (error: Error) => (given++, error.message),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await checkDestination('https://hooks.test/other', strict)).pinned?.address).toBe('93.184.216.34');
    await readFile(new URL(import.meta.url));
    await promisify(pbkdf2)('password', 'salt', 1000, 32, 'sha256');
    expect(given).toBe(0);
    // Each gives up after two tries of its A and AAAA queries.
    expect(await Promise.all(stuck)).toEqual(Array.from({ length: 8 }, (_, i) => `url's host bot-${i}.silent.test could not be resolved`));
    expect(dns.asked.get('bot-0.silent.test')).toBe(4);
  }, 15_000);
});

describe('retryDelayMs', () => {
  it('doubles from 5 s to at most an hour, jittered between half and all of it', () => {
    expect([retryDelayMs(1, 0), retryDelayMs(1, 1)]).toEqual([2500, 5000]);
    expect([retryDelayMs(3, 0), retryDelayMs(3, 1)]).toEqual([10_000, 20_000]);
    expect(retryDelayMs(40, 1)).toBe(3_600_000);
    expect(retryDelayMs(40, 0)).toBe(1_800_000);
  });

  it('keeps trying for more than a day before the 25 h window runs out', () => {
    let total = 0;
    let attempts = 0;
    while (total < 25 * 3_600_000) total += retryDelayMs(++attempts, 0);
    expect(attempts).toBeGreaterThan(40);
  });
});

describe('signature', () => {
  it('is t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const mac = createHmac('sha256', 'whsec_x').update('1700000000.{"a":1}').digest('hex');
    expect(signature('whsec_x', '{"a":1}', 1_700_000_000)).toBe(`t=1700000000,v1=${mac}`);
  });
});
