import { Injectable, Logger } from '@nestjs/common';
import type { ServerFrame } from '../notifications/frames.js';
import { JobQueue } from '../jobs/job-queue.js';
import { WakeAfterCommit } from '../jobs/wake-after-commit.js';
import { Notifier } from '../notifications/notifier.js';
import { WebhookBots } from './webhook-bots.js';
import { WebhooksRepository } from './webhooks.repository.js';

/**
 * The frames a bot's webhook gets besides `message.created` (which is queued in the message's
 * own transaction, by the webhooks migration's trigger): the changes to messages and
 * conversations, queued as they are published, just after their commit. Typing and presence are
 * moments, not changes, and are not sent; the rest are the socket's own (`ready`, `resync`, …).
 * An instance that dies between a commit and its publish loses these frames for webhooks as it
 * does for sockets; a bot catches up as a client does, from the changes feed. Only frames to a
 * bot with a webhook cost a statement (WebhookBots); a webhook set on another instance gets
 * them within WEBHOOK_BOTS_REFRESH_MS.
 */
const QUEUED_ON_PUBLISH = new Set<ServerFrame['type']>(['message.updated', 'message.deleted', 'conversation.updated', 'conversation.read']);

@Injectable()
export class WebhookFrames {
  private readonly logger = new Logger(WebhookFrames.name);

  constructor(
    notifier: Notifier,
    private readonly webhooks: WebhooksRepository,
    private readonly jobs: JobQueue,
    bots: WebhookBots,
    wake: WakeAfterCommit,
  ) {
    // message.created is queued by the messages trigger, for members that are bots with a webhook.
    wake.whenMessageTo((userIds) => bots.among(userIds).length > 0);
    notifier.onPublish((userIds, frame) => {
      if (!QUEUED_ON_PUBLISH.has(frame.type)) return;
      const recipients = bots.among(userIds);
      if (recipients.length === 0) return;
      this.webhooks.enqueue(recipients, frame).then(
        () => this.jobs.nudge(),
        (error: Error) => this.logger.error(`Queueing a ${frame.type} frame for webhooks failed: ${error.message}`),
      );
    });
  }
}
