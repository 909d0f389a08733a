import type { ParleyApi, User } from '@parley/client';
import { failedWith } from './errors.js';
import { Signal } from './signal.js';

/**
 * Names for user ids. Conversations carry member ids only, so names are fetched once per id
 * (GET /users/:id) and cached for the session. A user that is gone (404) is named as such.
 */
export class UserDirectory {
  readonly changed = new Signal();
  private readonly known = new Map<string, User | null>();
  private readonly loading = new Set<string>();

  constructor(
    private readonly api: ParleyApi,
    me: User,
  ) {
    this.known.set(me.id, me);
  }

  remember(user: User): void {
    this.known.set(user.id, user);
  }

  /** The name to show for an id; fetches unknown ids in the background. */
  name(id: string): string {
    const user = this.known.get(id);
    if (user) return user.displayName || user.username;
    if (user === null) return 'Former member';
    this.load(id);
    return '…';
  }

  /** The username for an id; fetches unknown ids in the background. */
  username(id: string): string | undefined {
    if (!this.known.has(id)) this.load(id);
    return this.known.get(id)?.username;
  }

  /** Known users, for completing mentions. */
  user(id: string): User | undefined {
    if (!this.known.has(id)) this.load(id);
    return this.known.get(id) ?? undefined;
  }

  private load(id: string): void {
    if (this.loading.has(id)) return;
    this.loading.add(id);
    this.api.user(id).then(
      (user) => {
        this.loading.delete(id);
        this.known.set(id, user);
        this.changed.emit();
      },
      (error: unknown) => {
        this.loading.delete(id);
        // Only a definite 404 is remembered; a network error is retried at the next render.
        if (failedWith(error, 404)) {
          this.known.set(id, null);
          this.changed.emit();
        }
      },
    );
  }
}
