import { createECDH, createPublicKey, randomBytes, verify, type ECDH } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import ece from 'http_ece';
import { expect } from 'vitest';

/** One push the local push service received, decrypted with the subscription's private key. */
export interface Push {
  subscription: string;
  headers: IncomingHttpHeaders;
  payload: { type: string; id: string; conversationId: string; seq: number; changeSeq: number };
  jwt: { aud: string; exp: number; sub: string };
  answered: number;
}

/**
 * A push service of the test's own (RFC 8030), on 127.0.0.1: it holds each subscription's private
 * key and auth secret, as the browser would, decrypts every push (RFC 8291, `http_ece`) and
 * checks its VAPID token (RFC 8292) against the server's public key, as a real one does.
 */
export class PushService {
  readonly pushes: Push[] = [];
  /** Requests it could not decrypt or whose VAPID token was wrong. */
  readonly refused: string[] = [];
  url = '';
  private readonly server: Server;
  private readonly browsers = new Map<string, { ecdh: ECDH; auth: Buffer }>();
  answer: (subscription: string, index: number) => number = () => 201;
  /** Resolved before a push is answered (once received and checked): see holdAnswers. */
  private hold: (subscription: string) => Promise<void> = async () => undefined;

  constructor(private readonly vapidPublicKey: string) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const subscription = request.url!.split('/').pop()!;
        try {
          const browser = this.browsers.get(subscription);
          if (!browser) throw new Error(`unknown subscription ${subscription}`);
          const jwt = this.checkVapid(String(request.headers.authorization));
          expect(request.headers['content-encoding']).toBe('aes128gcm');
          const plain = ece.decrypt(Buffer.concat(chunks), { version: 'aes128gcm', privateKey: browser.ecdh, authSecret: browser.auth.toString('base64url') });
          const answered = this.answer(subscription, this.pushes.filter((push) => push.subscription === subscription).length);
          this.pushes.push({ subscription, headers: request.headers, payload: JSON.parse(plain.toString()), jwt, answered });
          void this.hold(subscription).then(() => response.writeHead(answered).end());
        } catch (error) {
          this.refused.push((error as Error).message);
          response.writeHead(400).end();
        }
      });
    });
  }

  static async start(vapidPublicKey: string): Promise<PushService> {
    const service = new PushService(vapidPublicKey);
    await new Promise<void>((resolve) => service.server.listen(0, '127.0.0.1', resolve));
    service.url = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
    return service;
  }

  /** A browser's new subscription: its endpoint here and its keys, as `PushSubscription.toJSON()` gives them. */
  newBrowser(): { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } } {
    const name = randomBytes(6).toString('hex');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.browsers.set(name, { ecdh, auth });
    return { endpoint: `${this.url}/push/${name}`, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
  }

  /**
   * Holds the answers to `endpoint`'s pushes (received and recorded, not answered) until the
   * function returned is called: a push service that does not answer, for the time being.
   */
  holdAnswers(endpoint: string): () => void {
    let release = () => undefined as void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const name = endpoint.split('/').pop();
    this.hold = (subscription) => (subscription === name ? held : Promise.resolve());
    return () => {
      this.hold = async () => undefined;
      release();
    };
  }

  of(endpoint: string): Push[] {
    const name = endpoint.split('/').pop();
    return this.pushes.filter((push) => push.subscription === name);
  }

  /** `vapid t=<JWT>, k=<public key>`: k is the server's, and the JWT is signed by it (ES256), for this origin, unexpired. */
  private checkVapid(authorization: string): Push['jwt'] {
    const match = /^vapid t=([\w-]+)\.([\w-]+)\.([\w-]+), k=([\w-]+)$/.exec(authorization);
    if (!match) throw new Error(`no VAPID authorization: ${authorization}`);
    const [, header, claims, signature, key] = match;
    if (key !== this.vapidPublicKey) throw new Error('VAPID key is not the server’s');
    const point = Buffer.from(key, 'base64url');
    const publicKey = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
      format: 'jwk',
    });
    const signed = verify('sha256', Buffer.from(`${header}.${claims}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
    if (!signed) throw new Error('VAPID signature does not verify');
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ alg: 'ES256' });
    const jwt = JSON.parse(Buffer.from(claims, 'base64url').toString());
    if (jwt.aud !== this.url) throw new Error(`VAPID aud ${jwt.aud} is not ${this.url}`);
    if (!(jwt.exp > Date.now() / 1000 && jwt.exp <= Date.now() / 1000 + 24 * 3600)) throw new Error('VAPID exp out of range');
    return jwt;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
