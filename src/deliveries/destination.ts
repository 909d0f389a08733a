import { Resolver } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BadRequestException } from '@nestjs/common';
import { ServiceBusyException } from '../common/service-busy.exception.js';

/**
 * Where Parley may send to someone else's server: webhook URLs and push endpoints, both chosen by
 * a client. Which are accepted: WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE.
 */
export interface DestinationRules {
  allowHttp: boolean;
  allowPrivate: boolean;
}

/**
 * A URL checked for delivery, and the address its connection must use (the one checked); none
 * where any address is allowed (WEBHOOK_ALLOW_PRIVATE), and then the host is resolved as usual.
 */
export interface Destination {
  url: URL;
  pinned?: { address: string; family: 4 | 6 };
}

/** Why a URL is refused: said to the bot's owner (400) or recorded as the delivery's error. */
export class DestinationRefused extends Error {}

/** No lookup could start in time (see LookupSlots): a delivery tries again later; a registration is told 503. */
export class LookupsBusy extends DestinationRefused {}

/**
 * Lookups in flight at once, each waiting its turn at most `waitMs`: what one process asks DNS
 * at a time, whatever its clients register or send to.
 */
export class LookupSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly size: number,
    private readonly waitMs: number,
  ) {}

  async run<T>(lookup: () => Promise<T>): Promise<T> {
    if (this.running < this.size) this.running++;
    else await this.turn(); // a slot handed over by the lookup that ended
    try {
      return await lookup();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  private turn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const go = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(go), 1);
        reject(new LookupsBusy(`no host name lookup could start within ${this.waitMs / 1000} s`));
      }, this.waitMs);
      this.waiting.push(go);
    });
  }
}

/** How long a lookup waits for a slot before it is refused (LookupsBusy). */
const LOOKUP_WAIT_MS = 5_000;

/** Lookups at once: a name whose DNS never answers holds a slot for its tries, a few seconds. */
const lookupSlots = new LookupSlots(32, LOOKUP_WAIT_MS);

/**
 * Each DNS query is tried this often, waiting at most this long for an answer each time (c-ares
 * waits less for a server it has seen answer fast).
 */
const DNS_TIMEOUT_MS = 2_000;
const DNS_TRIES = 2;

/**
 * The deliveries' DNS client: c-ares, which queries the system's DNS servers (resolv.conf) from
 * this thread. `getaddrinfo` (`dns.lookup`) would hold one of libuv's four threads, which file
 * reads and crypto share, until DNS answered or the resolver gave up: a client registering
 * names whose DNS server never answers could hold them all. c-ares reads no /etc/hosts (its
 * names are the operator's, not a client's); `localhost` is loopback without asking (RFC 6761).
 * Exported for tests, which point it at a DNS server of their own.
 */
export const dnsResolver = new Resolver({ timeout: DNS_TIMEOUT_MS, tries: DNS_TRIES });

/** An address a host name resolved to. */
type ResolvedAddress = { address: string; family: number };

/** Every IPv4 and IPv6 address of a name, IPv4 first; fails only when neither family has one. */
async function resolveEveryAddress(hostname: string): Promise<ResolvedAddress[]> {
  const name = hostname.replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) {
    return [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ];
  }
  const [v4, v6] = await Promise.allSettled([dnsResolver.resolve4(hostname), dnsResolver.resolve6(hostname)]);
  const addresses = [
    ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
    ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
  ];
  if (addresses.length === 0 && v4.status === 'rejected') throw v4.reason;
  return addresses;
}

/**
 * How host names are resolved: every address of the name. A property of an object so that a
 * test can stand in for DNS, whose answers can change between registration and delivery.
 */
export const addressResolver = {
  resolve: (hostname: string): Promise<ResolvedAddress[]> => lookupSlots.run(() => resolveEveryAddress(hostname)),
};

/** How long deliveries use a host name's answer before they resolve it again. */
const ANSWER_KEPT_MS = 10_000;
/** Host names whose answers are kept; beyond it the least recently resolved go. */
const NAMES_KEPT = 1024;

/**
 * The deliveries' lookups. Every push to one push service, and every bot on one host in a shard
 * round, would otherwise ask DNS again. A name is resolved at most once per ANSWER_KEPT_MS, and
 * callers asking for a name while it is being resolved share that lookup. Failed or empty
 * answers are not kept. A name that moves to a private address is refused once its answer is
 * renewed; a connection always goes to the address that was checked.
 */
export class KeptAnswers {
  private readonly answers = new Map<string, { addresses: Promise<ResolvedAddress[]>; until: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  resolve(hostname: string): Promise<ResolvedAddress[]> {
    const kept = this.answers.get(hostname);
    if (kept && kept.until > this.now()) return kept.addresses;
    this.answers.delete(hostname);
    const entry = { addresses: addressResolver.resolve(hostname), until: Infinity }; // shared while in flight
    this.answers.set(hostname, entry);
    if (this.answers.size > NAMES_KEPT) this.answers.delete(this.answers.keys().next().value!);
    const forget = () => this.answers.get(hostname) === entry && this.answers.delete(hostname);
    entry.addresses.then(
      (addresses) => (addresses.length > 0 ? (entry.until = this.now() + ANSWER_KEPT_MS) : forget()),
      forget,
    );
    return entry.addresses;
  }
}

/** The lookups of every delivery of this process (webhooks and pushes). */
export const deliveryAnswers = new KeptAnswers();

/**
 * Addresses no webhook may reach: this host, private networks, link-local (cloud metadata),
 * carrier-grade NAT, multicast, reserved and documentation ranges, and the IPv6 forms that
 * reach IPv4 ones (IPv4-mapped, NAT64), which are refused outright.
 */
const NOT_PUBLIC_V4 = new BlockList();
// Apart: a BlockList also checks IPv4 addresses against IPv6 rules, as IPv4-mapped ones.
const NOT_PUBLIC_V6 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NOT_PUBLIC_V4.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::', 96],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NOT_PUBLIC_V6.addSubnet(network, prefix, 'ipv6');
}

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return family === 4 ? !NOT_PUBLIC_V4.check(address, 'ipv4') : !NOT_PUBLIC_V6.check(address, 'ipv6');
}

const MAX_URL_LENGTH = 2048;

/** The URL's form alone (scheme, no credentials, length): what a DTO can say without DNS. */
export function parseWebhookUrl(raw: string, rules: DestinationRules): URL {
  if (raw.length > MAX_URL_LENGTH) throw new DestinationRefused(`url must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DestinationRefused('url must be an absolute URL');
  }
  const schemes = rules.allowHttp ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) throw new DestinationRefused(`url must be ${rules.allowHttp ? 'http or https' : 'https'}`);
  if (url.username || url.password) throw new DestinationRefused('url must not carry credentials');
  return url;
}

/**
 * Checks a webhook URL and, unless any address is allowed, resolves its host: every address it
 * resolves to must be public, and the first is the one to connect to, so that a second lookup
 * by the HTTP client cannot land elsewhere. The URL parser has already turned the other
 * spellings of an address (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`) into their plain form.
 * Deliveries pass `answers` (deliveryAnswers); a URL being registered is resolved afresh.
 */
export async function checkDestination(raw: string, rules: DestinationRules, answers?: KeptAnswers): Promise<Destination> {
  const url = parseWebhookUrl(raw, rules);
  if (rules.allowPrivate) return { url };
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: { address: string; family: number }[];
  if (isIP(hostname)) {
    addresses = [{ address: hostname, family: isIP(hostname) }];
  } else {
    try {
      addresses = await (answers ? answers.resolve(hostname) : addressResolver.resolve(hostname));
    } catch (error) {
      if (error instanceof LookupsBusy) throw error;
      throw new DestinationRefused(`url's host ${hostname} could not be resolved`);
    }
    if (addresses.length === 0) throw new DestinationRefused(`url's host ${hostname} could not be resolved`);
  }
  const refused = addresses.find((entry) => !isPublicAddress(entry.address));
  if (refused) throw new DestinationRefused(`url must not point at a loopback, private or other non-public address (${refused.address})`);
  const [first] = addresses;
  return { url, pinned: { address: first.address, family: first.family === 6 ? 6 : 4 } };
}

/**
 * Checks a URL a client registers (a webhook URL, a push endpoint), resolved afresh, as the
 * client is answered: 400 naming `field` when it is refused, 503 when no lookup could start.
 */
export async function checkRegistration(raw: string, rules: DestinationRules, field: string): Promise<void> {
  try {
    await checkDestination(raw, rules);
  } catch (error) {
    if (error instanceof LookupsBusy) throw new ServiceBusyException('Too many host name lookups at once; try again after Retry-After', LOOKUP_WAIT_MS / 1000);
    if (error instanceof DestinationRefused) throw new BadRequestException([error.message.replace(/^url/, field)]);
    throw error;
  }
}
