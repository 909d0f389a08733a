import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { OutageLog } from '../common/outage-log.js';
import { Notifier } from '../notifications/notifier.js';
import { FanoutOutboxRepository } from './fanout-outbox.repository.js';
import { MessagesService } from './messages.service.js';

/** How long a sender has to publish a statement's messages and clear its outbox row. */
export const RELAY_AFTER_MS = 3_000;
/** How often each instance looks for rows left by a sender that did not clear them. */
const RELAY_EVERY_MS = 1_000;
/** How often a sender clears the rows of what it has published. */
const CLEAR_EVERY_MS = 100;
const RELAY_BATCH = 500;

/**
 * Closes the gap between a send's commit and its publish. Every statement that stores messages
 * leaves an outbox row in its transaction (the fanout-outbox migration). The instance that sent
 * them clears the row once their frames have reached every instance (with Redis: once Redis took
 * them); any live instance relays a row still there after RELAY_AFTER_MS (its sender died, could
 * not reach the database to clear it, or Redis did not take a frame). So
 * the members of a committed message hear of it within RELAY_AFTER_MS + RELAY_EVERY_MS wherever
 * they are connected, whatever became of its sender; a frame that comes twice is handed to each
 * connection once (DeliveredOnce).
 */
@Injectable()
export class FanoutRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(FanoutRelay.name);
  private published: string[] = [];
  private clearTimer: NodeJS.Timeout | undefined;
  private relayTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly outage = new OutageLog(this.logger, {
    down: 'Could not clear or relay the fan-out outbox',
    stillDown: 'Still cannot clear or relay the fan-out outbox',
    back: 'Clearing and relaying the fan-out outbox again',
  });

  constructor(
    private readonly outbox: FanoutOutboxRepository,
    private readonly messages: MessagesService,
    notifier: Notifier,
  ) {
    // Every new message's frame that reached every instance, whichever path published it (a
    // send, a system message, the relay itself): its statement's row, if it was the first of
    // the statement, can go. One Redis did not take keeps its row, and is relayed.
    notifier.onReached((frame) => {
      if (frame.type === 'message.created') this.published.push(frame.id);
    });
  }

  onApplicationBootstrap(): void {
    this.clearTimer = setInterval(() => this.tick(() => this.clear()), CLEAR_EVERY_MS);
    // Instances started together need not look at the same moment.
    this.relayTimer = setInterval(() => this.tick(() => this.relayLeft()), RELAY_EVERY_MS + Math.floor(Math.random() * 100));
    this.clearTimer.unref();
    this.relayTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.clearTimer);
    clearInterval(this.relayTimer);
    await this.running;
    // What was published has its rows cleared, so that no other instance relays it again.
    await this.clear().catch((error: Error) => this.logger.warn(`Could not clear the fan-out outbox: ${error.message}`));
  }

  /** Relays every row left longer than RELAY_AFTER_MS; returns how many messages it announced. */
  async relayLeft(): Promise<number> {
    let total = 0;
    for (;;) {
      const relayed = await this.outbox.relay(RELAY_AFTER_MS, RELAY_BATCH, (messages) => {
        for (const { threadRoot, memberIds, ...message } of messages) this.messages.announceNew(message, memberIds, threadRoot ?? undefined);
      });
      total += relayed;
      if (relayed === 0) break;
    }
    if (total > 0) this.logger.warn(`Relayed ${total} message frame(s) whose sender could not publish them to every instance`);
    return total;
  }

  private async clear(): Promise<void> {
    if (this.published.length === 0) return;
    const ids = this.published;
    this.published = [];
    await this.outbox.clear(ids);
  }

  /**
   * One clearing or relaying at a time: a tick that finds the last still running (a slow
   * database) is skipped. A failure is logged once per outage; a row whose clearing failed is
   * relayed later, once.
   */
  private tick(work: () => Promise<unknown>): void {
    if (this.running) return;
    this.running = work().then(
      () => this.outage.succeeded(),
      (error: Error) => this.outage.failed(error.message),
    );
    void this.running.finally(() => (this.running = undefined));
  }
}
