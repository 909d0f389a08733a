import type { ParleyApi, PresenceEvent } from '@parley/client';
import { Signal } from './signal.js';

export interface PresenceState {
  status: 'online' | 'offline';
  /** When the user was last online; null when unknown or not shared. */
  lastSeenAt: string | null;
}

/** The most ids one `GET /presence` takes. */
const PER_CALL = 100;

/**
 * Who is online, for the users the page shows. A view asks with `get(id)`: ids not known yet
 * are read in one batch (`api.presence`, 100 at a time) and `changed` emits when they are
 * known. `presence` events keep them current; after a reconnect everything is read again (what
 * changed while the socket was down was not announced). The server leaves out users who share
 * no conversation with the caller: those are known as null (no dot) until a membership change.
 */
export class PresenceStore {
  readonly changed = new Signal();
  private readonly known = new Map<string, PresenceState | null>();
  /** Per user, the event count when its state was last set by an event. */
  private readonly setByEvent = new Map<string, number>();
  private events = 0;
  private readonly wanted = new Set<string>();
  private readonly loading = new Set<string>();
  private scheduled = false;

  constructor(
    private readonly api: ParleyApi,
    private readonly myId: string,
  ) {}

  /** The user's presence: undefined while unknown (and then read), null if not shared with us. */
  get(userId: string): PresenceState | null | undefined {
    if (userId === this.myId) return null;
    if (!this.known.has(userId)) this.want([userId]);
    return this.known.get(userId);
  }

  /** A `presence` event: newer than any read under way. */
  apply(event: PresenceEvent): void {
    this.setByEvent.set(event.userId, ++this.events);
    this.known.set(event.userId, { status: event.status, lastSeenAt: event.lastSeenAt });
    this.changed.emit();
  }

  /** Reads every user asked about again (after a reconnect: events were missed meanwhile). */
  refreshAll(): void {
    this.want([...this.known.keys()], true);
  }

  /** Members changed: users who shared nothing with us may now, so they are asked about again. */
  retryUnshared(): void {
    this.want(
      [...this.known].filter(([, state]) => state === null).map(([id]) => id),
      true,
    );
  }

  private want(ids: string[], again = false): void {
    for (const id of ids) if (again || !this.loading.has(id)) this.wanted.add(id);
    if (this.scheduled || this.wanted.size === 0) return;
    this.scheduled = true;
    // Everything asked for while the page renders goes in one request.
    queueMicrotask(() => {
      this.scheduled = false;
      const ids = [...this.wanted];
      this.wanted.clear();
      for (let i = 0; i < ids.length; i += PER_CALL) void this.read(ids.slice(i, i + PER_CALL));
    });
  }

  private async read(ids: string[]): Promise<void> {
    const startedAt = this.events;
    for (const id of ids) this.loading.add(id);
    try {
      const items = await this.api.presence(ids);
      const answered = new Map(items.map((item) => [item.userId, item]));
      for (const id of ids) {
        // An event that came while this read was under way is the newer news.
        if ((this.setByEvent.get(id) ?? 0) > startedAt) continue;
        const item = answered.get(id);
        this.known.set(id, item ? { status: item.status, lastSeenAt: item.lastSeenAt } : null);
      }
      this.changed.emit();
    } catch {
      // Left unknown: the next render asks again, and the next reconnect reads everything.
    } finally {
      for (const id of ids) this.loading.delete(id);
    }
  }
}
