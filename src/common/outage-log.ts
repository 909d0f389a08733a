import type { Logger } from '@nestjs/common';

/** How often a dependency that stays down is mentioned again. */
const REMINDER_MS = 60_000;

/** The words of the three lines, each followed by the seconds or the reason. */
export interface OutageWords {
  /** "… : <reason>" */
  down: string;
  /** "… after <n> s: <reason>" */
  stillDown: string;
  /** "… after <n> s" */
  back: string;
}

/**
 * What a dependency's outage says in the log: one warning when it starts failing, a reminder a
 * minute while it stays down, and one line when it works again. Not a line per failure: under
 * load an outage fails every request, publish or reconnect attempt, and would flood the log
 * with thousands of lines a second.
 */
export class OutageLog {
  private outage?: { since: number; warnedAt: number };

  constructor(
    private readonly logger: Pick<Logger, 'warn' | 'log'>,
    private readonly words: OutageWords,
    private readonly now: () => number = () => Date.now(),
  ) {}

  failed(reason: string): void {
    const now = this.now();
    if (!this.outage) {
      this.outage = { since: now, warnedAt: now };
      this.logger.warn(`${this.words.down}: ${reason}`);
    } else if (now - this.outage.warnedAt >= REMINDER_MS) {
      this.outage.warnedAt = now;
      this.logger.warn(`${this.words.stillDown} after ${this.secondsSince(this.outage.since)} s: ${reason}`);
    }
  }

  succeeded(): void {
    if (!this.outage) return;
    this.logger.log(`${this.words.back} after ${this.secondsSince(this.outage.since)} s`);
    this.outage = undefined;
  }

  private secondsSince(time: number): number {
    return Math.round((this.now() - time) / 1000);
  }
}
