/**
 * A fleet-wide, time-bucketed scheduler: items due at the same instant share one clock timer,
 * whatever the fleet's size. Its timer callback returns the promise of that instant's work, so
 * a VirtualClock runs every request of the instant concurrently and waits for them all before
 * time moves on.
 *
 * Nothing is ever removed: an item rescheduled or stopped is simply skipped when its old
 * bucket fires (the runner checks the item's own due time), which keeps scheduling O(1).
 */
import type { Clock, TimerHandle } from '../protocol/clock';

export class BucketScheduler<T> {
  private readonly buckets = new Map<number, T[]>();
  private readonly timers = new Map<number, TimerHandle>();
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    /** Runs one item of a bucket at its instant; a returned promise is awaited with the others. */
    private readonly run: (item: T, at: number) => void | Promise<unknown>,
    private readonly label = 'fleet scheduler',
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Runs `item` at clock time `at` (now, if `at` has passed). */
  schedule(at: number, item: T): void {
    if (this.stopped) return;
    const due = Math.max(at, this.clock.now());
    const bucket = this.buckets.get(due);
    if (bucket) {
      bucket.push(item);
      return;
    }
    this.buckets.set(due, [item]);
    this.timers.set(
      due,
      this.clock.setTimer(due - this.clock.now(), () => this.fire(due), this.label),
    );
  }

  /** Distinct instants with a timer set. */
  get timerCount(): number {
    return this.timers.size;
  }

  /** Items waiting in buckets (stale ones included). */
  get size(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.length;
    return n;
  }

  /** Cancels every timer; nothing runs after this. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.buckets.clear();
  }

  private fire(at: number): Promise<unknown> | undefined {
    const items = this.buckets.get(at);
    this.buckets.delete(at);
    this.timers.delete(at);
    if (!items || this.stopped) return undefined;
    let pending: Promise<unknown>[] | undefined;
    for (const item of items) {
      try {
        const p = this.run(item, at);
        if (p) (pending ??= []).push(p.catch(this.onError));
      } catch (error) {
        this.onError(error);
      }
    }
    return pending ? Promise.all(pending) : undefined;
  }
}

/**
 * The first instant ≥ t on a grid of `periodMs` offset by `phaseMs`: every Mac whose phase is
 * the same minute checks in at the same instants.
 */
export function nextOnGrid(t: number, periodMs: number, phaseMs: number): number {
  const r = (((t - phaseMs) % periodMs) + periodMs) % periodMs;
  return r === 0 ? t : t + (periodMs - r);
}
