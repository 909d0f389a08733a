import { randomBytes } from 'node:crypto';
import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Caller } from '../common/caller/caller.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { checkRegistration, type DestinationRules } from '../deliveries/destination.js';
import { WebhookBots } from './webhook-bots.js';
import { WebhooksRepository } from './webhooks.repository.js';
import type { WebhookHealthList, WebhookSet } from './webhook.views.js';

/** A bot's webhook: where its frames go, checked when set (and again at every delivery). */
@Injectable()
export class WebhooksService {
  private readonly rules: DestinationRules;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly webhooks: WebhooksRepository,
    private readonly bots: WebhookBots,
  ) {
    this.rules = { allowHttp: config.webhookAllowHttp, allowPrivate: config.webhookAllowPrivate };
  }

  async set(caller: Caller, botId: string, url: string): Promise<WebhookSet> {
    await checkRegistration(url, this.rules, 'url');
    // The HMAC key of the signatures, shown once.
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    if (!(await this.webhooks.set(caller.id, botId, url, secret))) throw new NotFoundException('Bot not found');
    await this.bots.reload();
    return { url, secret };
  }

  async remove(caller: Caller, botId: string): Promise<void> {
    if (!(await this.webhooks.remove(caller.id, botId))) throw new NotFoundException('Webhook not found');
    await this.bots.reload();
  }

  async health(): Promise<WebhookHealthList> {
    const rows = await this.webhooks.health();
    return {
      items: rows.map((row) => ({
        ...row,
        createdAt: iso(row.createdAt)!,
        lastSuccessAt: iso(row.lastSuccessAt),
        lastFailureAt: iso(row.lastFailureAt),
      })),
    };
  }
}

function iso(date: Date | null): string | null {
  return date === null ? null : new Date(date).toISOString();
}
