import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { checkRegistration, type DestinationRules } from '../deliveries/destination.js';
import type { SubscribeDto } from './dto/subscribe.dto.js';
import { PushRepository } from './push.repository.js';
import { PushSubscribers } from './push-subscribers.js';
import { VAPID_KEYS, type VapidKeys } from './vapid-keys.js';

/** Browsers' push subscriptions: a client-chosen URL, so held to the webhooks' rules. */
@Injectable()
export class PushService {
  private readonly rules: DestinationRules;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(VAPID_KEYS) private readonly vapid: VapidKeys,
    private readonly pushes: PushRepository,
    private readonly subscribers: PushSubscribers,
  ) {
    this.rules = { allowHttp: config.webhookAllowHttp, allowPrivate: config.webhookAllowPrivate };
  }

  publicKey(): { publicKey: string } {
    return { publicKey: this.vapid.publicKey };
  }

  async subscribe(userId: string, dto: SubscribeDto): Promise<{ id: string; created: boolean }> {
    await checkRegistration(dto.endpoint, this.rules, 'endpoint');
    if (Buffer.from(dto.keys.p256dh, 'base64url').length !== 65) throw new BadRequestException(['keys.p256dh must be 65 bytes in URL-safe base64']);
    if (Buffer.from(dto.keys.auth, 'base64url').length !== 16) throw new BadRequestException(['keys.auth must be 16 bytes in URL-safe base64']);
    const answer = await this.pushes.subscribe(userId, dto.endpoint, dto.keys.p256dh, dto.keys.auth);
    await this.subscribers.reload();
    return answer;
  }

  async unsubscribe(userId: string, subscriptionId: string): Promise<void> {
    if (!(await this.pushes.unsubscribe(userId, subscriptionId))) throw new NotFoundException('Subscription not found');
  }
}
