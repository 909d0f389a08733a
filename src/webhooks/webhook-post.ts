import { createHmac } from 'node:crypto';
import type { Destination } from '../deliveries/destination.js';
import { postTo, type PostOutcome } from '../deliveries/pinned-post.js';

/** `Parley-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`. */
export function signature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** POSTs one frame to a bot's webhook, signed. */
export function postFrame(destination: Destination, body: string, deliveryId: string, secret: string): Promise<PostOutcome> {
  return postTo(
    destination,
    {
      'content-type': 'application/json',
      'user-agent': 'Parley-Webhook/1',
      'parley-delivery': deliveryId,
      'parley-signature': signature(secret, body, Math.floor(Date.now() / 1000)),
    },
    body,
  );
}
