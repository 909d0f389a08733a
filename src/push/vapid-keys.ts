import webpush from 'web-push';
import { keptInDataDir } from '../config/kept-secret.js';
import type { AppConfig } from '../config/app-config.js';

/** This server's Web Push identity (VAPID, RFC 8292). */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  subject: string;
}

export const VAPID_KEYS = Symbol('VAPID_KEYS');

/**
 * The configured keys, or a pair generated on the first start and kept in
 * `DATA_DIR/vapid-keys.json`: browsers subscribe to one public key, so it must outlive restarts
 * (and be the same on every instance: several instances set VAPID_PUBLIC_KEY and
 * VAPID_PRIVATE_KEY, or share DATA_DIR).
 */
export async function loadVapidKeys(config: AppConfig): Promise<VapidKeys> {
  if (config.vapidPublicKey && config.vapidPrivateKey) {
    return { publicKey: config.vapidPublicKey, privateKey: config.vapidPrivateKey, subject: config.vapidSubject };
  }
  if (config.vapidPublicKey || config.vapidPrivateKey) {
    throw new Error('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are set together, or neither');
  }
  const kept = await keptInDataDir(config.dataDir, 'vapid-keys.json', 'the Web Push (VAPID) keys', () =>
    JSON.stringify(webpush.generateVAPIDKeys()),
  );
  const { publicKey, privateKey } = JSON.parse(kept) as { publicKey: string; privateKey: string };
  return { publicKey, privateKey, subject: config.vapidSubject };
}
