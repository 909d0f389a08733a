import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { UsersRepository } from './users.repository.js';

/** How long sightings are gathered before they are written together. */
const FLUSH_DELAY_MS = 1000;

/**
 * Users' `last_seen_at` (a login or a socket connection), written in batches: one UPDATE for
 * every user seen within a second, instead of a committed write per connection, which in a
 * reconnect storm after a deploy would be a write storm. Readers that show it (the admin user
 * list) flush first, so what this instance has seen is never missing from an answer.
 */
@Injectable()
export class LastSeenRecorder implements OnApplicationShutdown {
  private readonly logger = new Logger(LastSeenRecorder.name);
  private pending = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly users: UsersRepository) {}

  seen(userId: string): void {
    this.pending.add(userId);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_DELAY_MS).unref();
  }

  /** Writes what has been seen so far. Best effort: a failure is logged, not thrown. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const ids = [...this.pending];
    this.pending = new Set();
    try {
      await this.users.markSeen(ids);
    } catch (error) {
      this.logger.warn(`Could not record ${ids.length} last-seen times: ${(error as Error).message}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
