/**
 * One deadline per item, kept in buckets of one second and taken out by a sweep each second:
 * scheduling and sweeping cost in proportion to the items due, not to all the items, and one
 * interval serves every socket instead of a timer each (every timer is an object the event
 * loop tracks and every renewal would clear and set one).
 */
export class Deadlines<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private readonly secondOf = new Map<T, number>();
  /** Every bucket before this second has been swept. */
  private nextSecond: number;

  constructor(nowMs = Date.now()) {
    this.nextSecond = Math.floor(nowMs / 1000);
  }

  /** Sets (or moves) the item's deadline; a time already past is due at the next sweep. */
  schedule(item: T, atMs: number): void {
    this.remove(item);
    const second = Math.max(Math.ceil(atMs / 1000), this.nextSecond);
    let bucket = this.buckets.get(second);
    if (!bucket) this.buckets.set(second, (bucket = new Set()));
    bucket.add(item);
    this.secondOf.set(item, second);
  }

  remove(item: T): void {
    const second = this.secondOf.get(item);
    if (second === undefined) return;
    this.secondOf.delete(item);
    const bucket = this.buckets.get(second)!;
    bucket.delete(item);
    if (bucket.size === 0) this.buckets.delete(second);
  }

  /** The items whose deadline is at or before `nowMs`, removed from here. */
  takeDue(nowMs = Date.now()): T[] {
    const due: T[] = [];
    const now = Math.floor(nowMs / 1000);
    for (; this.nextSecond <= now; this.nextSecond++) {
      const bucket = this.buckets.get(this.nextSecond);
      if (!bucket) continue;
      this.buckets.delete(this.nextSecond);
      for (const item of bucket) {
        this.secondOf.delete(item);
        due.push(item);
      }
    }
    return due;
  }

  get size(): number {
    return this.secondOf.size;
  }
}
