import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { RefreshedIdSet } from '../common/refreshed-id-set.js';
import { WebhooksRepository } from './webhooks.repository.js';

/** How often the set is read again: a webhook set on another instance gets its frames within this. */
export const WEBHOOK_BOTS_REFRESH_MS = 5000;

/**
 * The users that are bots with a webhook, held in memory, so that publishing a frame to users
 * of whom none has one costs no database statement. Without it every `conversation.updated`,
 * `conversation.read` or `message.updated` cost a query, and a burst of them (a busy group,
 * a client moving its read marker) took the pool's connections from the requests. Read again
 * every few seconds (a webhook set on another instance) and at once after a change here.
 */
@Injectable()
export class WebhookBots implements OnModuleInit, OnModuleDestroy {
  private readonly set: RefreshedIdSet;

  constructor(webhooks: WebhooksRepository) {
    this.set = new RefreshedIdSet(() => webhooks.botIds(), WEBHOOK_BOTS_REFRESH_MS, new Logger(WebhookBots.name), 'the bots with webhooks');
  }

  onModuleInit(): Promise<void> {
    return this.set.start();
  }

  onModuleDestroy(): void {
    this.set.stop();
  }

  /** Those of `userIds` that are bots with a webhook, as far as this instance knows. */
  among(userIds: readonly string[]): string[] {
    return this.set.among(userIds);
  }

  reload(): Promise<void> {
    return this.set.reload();
  }
}
