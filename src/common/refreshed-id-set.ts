import type { Logger } from '@nestjs/common';

/**
 * A set of ids read from the database and held in memory, read again every `refreshMs` (a change
 * made on another instance) and at once when `reload` is called (a change made here). Lets a hot
 * path ask "is any of these users one of them?" without a statement.
 */
export class RefreshedIdSet {
  private ids = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly read: () => Promise<string[]>,
    private readonly refreshMs: number,
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  async start(): Promise<void> {
    await this.reload().catch((error: Error) => this.logger.warn(`Could not read ${this.what}: ${error.message}`));
    this.timer = setInterval(() => void this.reload().catch(() => undefined), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async reload(): Promise<void> {
    this.ids = new Set(await this.read());
  }

  /** Those of `ids` in the set. */
  among(ids: readonly string[]): string[] {
    if (this.ids.size === 0) return [];
    return ids.filter((id) => this.ids.has(id));
  }
}
