import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { OutageLog } from '../common/outage-log.js';
import { Metrics } from '../metrics/metrics.service.js';
import { ConnectionRegistry } from '../notifications/connection-registry.js';
import type { PresenceStatus } from '../notifications/frames.js';
import { Notifier } from '../notifications/notifier.js';
import { UsersService } from '../users/users.service.js';
import { PresenceRepository } from './presence.repository.js';
import type { PresenceView } from './presence.view.js';
import { PresenceStore } from './presence-store.js';

/**
 * Presence: the store says who is online (and reports each change once, on one instance); this
 * service tells the users who share a conversation with the user, resolved in one query per
 * change, and answers `GET /api/v1/presence`. A user with `sharePresence: false` is `offline`
 * with `lastSeenAt: null` to everyone else: its changes are never announced, and turning the
 * setting off (or on) is announced as such a change.
 */
@Injectable()
export class PresenceService implements OnModuleInit {
  private readonly logger = new Logger(PresenceService.name);
  /** A database outage fails every announcement: said once, not once a change. */
  private readonly announceOutage = new OutageLog(this.logger, {
    down: 'Presence changes not announced: who shares a conversation could not be read',
    stillDown: 'Presence changes still not announced',
    back: 'Presence changes announced again',
  });
  /** Each user's announcements in the order they happened, whatever their queries take. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly store: PresenceStore,
    private readonly presence: PresenceRepository,
    private readonly connections: ConnectionRegistry,
    private readonly notifier: Notifier,
    private readonly users: UsersService,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    this.store.onTransition = (userId, status, atMs) =>
      this.inOrder(userId, () => this.announce(userId, status, status === 'online' ? Date.now() : atMs, false));
    this.connections.addListener({
      socketReady: (userId) => this.store.socketOpened(userId),
      socketGone: (userId) => this.store.socketClosed(userId),
    });
    this.users.onPresenceSharingChanged((userId, shared) => this.inOrder(userId, () => this.sharingChanged(userId, shared)));
  }

  /** The presence of those of `userIds` who share a conversation with the caller (or are the caller), in the order asked. */
  async list(callerId: string, userIds: string[]): Promise<PresenceView[]> {
    const unique = [...new Set(userIds)];
    const visible = new Map((await this.presence.visibleTo(callerId, unique)).map((user) => [user.userId, user]));
    // Not shared: offline with no time to others, so the store is not even asked.
    const shown = unique.filter((id) => id === callerId || visible.get(id)?.sharePresence === true);
    const live = await this.store.lookup(shown);
    const now = new Date().toISOString();
    const items: PresenceView[] = [];
    for (const userId of unique) {
      const user = visible.get(userId);
      if (!user) continue;
      const state = live.get(userId);
      if (!state) {
        items.push({ userId, status: 'offline', lastSeenAt: null });
      } else if (state.online) {
        items.push({ userId, status: 'online', lastSeenAt: now });
      } else {
        const lastSeenAt = state.lastSeenAtMs !== null ? new Date(state.lastSeenAtMs) : user.lastSeenAt && new Date(user.lastSeenAt);
        items.push({ userId, status: 'offline', lastSeenAt: lastSeenAt ? lastSeenAt.toISOString() : null });
      }
    }
    return items;
  }

  /**
   * Tells everyone who shares a conversation with `userId`: one query for the audience (none
   * when the user does not share its presence, unless the change is of that setting).
   */
  private async announce(userId: string, status: PresenceStatus, atMs: number | null, whateverTheSetting: boolean): Promise<void> {
    const audience = await this.presence.audienceOf(userId, whateverTheSetting);
    if (audience.length === 0) return;
    this.metrics.presenceAnnouncements.inc({ status });
    this.notifier.publish(audience, { type: 'presence', userId, status, lastSeenAt: atMs === null ? null : new Date(atMs).toISOString() });
  }

  /** Turned off: others see it go offline, with no time. Turned on: they see what it is. */
  private async sharingChanged(userId: string, shared: boolean): Promise<void> {
    if (!shared) return this.announce(userId, 'offline', null, true);
    const state = (await this.store.lookup([userId])).get(userId);
    if (state?.online) return this.announce(userId, 'online', Date.now(), false);
    const lastSeenAtMs = state?.lastSeenAtMs ?? (await this.presence.visibleTo(userId, [userId]))[0]?.lastSeenAt?.valueOf() ?? null;
    return this.announce(userId, 'offline', lastSeenAtMs === null ? null : Number(lastSeenAtMs), false);
  }

  /** Runs `task` after the user's earlier announcements; a failure is logged, not thrown. */
  private inOrder(userId: string, task: () => Promise<void>): void {
    const previous = this.queues.get(userId) ?? Promise.resolve();
    const next = previous
      .then(task)
      .then(
        () => this.announceOutage.succeeded(),
        (error: Error) => this.announceOutage.failed(error.message),
      )
      .finally(() => {
        if (this.queues.get(userId) === next) this.queues.delete(userId);
      });
    this.queues.set(userId, next);
  }
}
