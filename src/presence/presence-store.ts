import type { OnApplicationShutdown } from '@nestjs/common';
import type { PresenceStatus } from '../notifications/frames.js';

/** What a store knows of a user's presence. */
export interface LivePresence {
  online: boolean;
  /** When its last socket closed (ms since the epoch); null when the store has not seen it go. */
  lastSeenAtMs: number | null;
}

/** A change to announce: `atMs` is when it came online, or when its last socket closed. */
export type PresenceTransition = (userId: string, status: PresenceStatus, atMs: number) => void;

/**
 * Who is online: a user is while it holds at least one socket on any instance, and for a grace
 * after its last one closes (PRESENCE_OFFLINE_GRACE_MS), so that a reload does not flicker.
 * Each change is reported once to `onTransition`, on one instance, whichever instances the
 * sockets were on: in process for one instance (`LocalPresenceStore`), through Redis for several
 * (`RedisPresenceStore`).
 */
export abstract class PresenceStore {
  /** Set by the presence service. */
  onTransition: PresenceTransition = () => undefined;

  /** A socket of `userId` on this instance was sent `ready`. */
  abstract socketOpened(userId: string): void;

  /** A ready socket of `userId` on this instance went. */
  abstract socketClosed(userId: string): void;

  /** The presence of each of `userIds`. */
  abstract lookup(userIds: readonly string[]): Promise<Map<string, LivePresence>>;
}

/**
 * How often pending `offline`s are looked at: every 100 ms at the default grace (a twentieth of
 * it when shorter). Each sweep announces every user whose grace ended since the last, to all who
 * share a conversation with each: a sweep a second let a second's worth of them (75 users and
 * 1,900 frames in the live-signals bench) go out in one burst, which every other frame waited
 * behind, once a second.
 */
export function sweepInterval(graceMs: number): number {
  return Math.max(25, Math.min(100, Math.floor(graceMs / 20)));
}

/**
 * One instance: counts of ready sockets per user in memory, and the users in their grace with
 * the time their last socket closed.
 */
export class LocalPresenceStore extends PresenceStore implements OnApplicationShutdown {
  private readonly sockets = new Map<string, number>();
  /** Users whose last socket closed, by when `offline` is due. */
  private readonly pending = new Map<string, number>();
  private readonly lastSeen = new Map<string, number>();
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly graceMs: number) {
    super();
    this.sweep = setInterval(() => this.announceDue(), sweepInterval(graceMs));
    this.sweep.unref();
  }

  socketOpened(userId: string): void {
    const count = (this.sockets.get(userId) ?? 0) + 1;
    this.sockets.set(userId, count);
    if (count > 1) return;
    // Back within the grace: it never stopped being online for anyone.
    if (this.pending.delete(userId)) return;
    this.onTransition(userId, 'online', Date.now());
  }

  socketClosed(userId: string): void {
    const count = (this.sockets.get(userId) ?? 0) - 1;
    if (count > 0) return void this.sockets.set(userId, count);
    this.sockets.delete(userId);
    const now = Date.now();
    this.lastSeen.set(userId, now);
    this.pending.set(userId, now + this.graceMs);
  }

  async lookup(userIds: readonly string[]): Promise<Map<string, LivePresence>> {
    const found = new Map<string, LivePresence>();
    for (const userId of userIds) {
      found.set(userId, {
        online: this.sockets.has(userId) || this.pending.has(userId),
        lastSeenAtMs: this.lastSeen.get(userId) ?? null,
      });
    }
    return found;
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweep);
  }

  private announceDue(): void {
    const now = Date.now();
    for (const [userId, due] of this.pending) {
      if (due > now) continue;
      this.pending.delete(userId);
      this.onTransition(userId, 'offline', this.lastSeen.get(userId) ?? now);
    }
  }
}
