/**
 * All time in mdmsim comes from a Clock, so that a week of device life can play out in
 * seconds. The server and the simulator take a Clock by injection; a lab hands the same
 * VirtualClock to both.
 *
 * Timer callbacks may return a promise. A VirtualClock awaits the work of one instant
 * before it moves to the next, so the effects of a timer (HTTP requests, records) carry
 * that timer's own virtual timestamp and happen in time order. A callback must therefore
 * never wait for the clock to advance: that would deadlock the advance that runs it.
 */

export type ClockMode = 'real' | 'virtual';
export type TimerCallback = () => void | Promise<unknown>;

export interface TimerHandle {
  /** Clock time (ms since the epoch) at which the callback runs. */
  readonly due: number;
  cancel(): void;
}

export interface Clock {
  readonly mode: ClockMode;
  /** Milliseconds since the Unix epoch, in this clock's time. */
  now(): number;
  /** Runs `fn` once, `delayMs` from now (negative delays count as 0). */
  setTimer(delayMs: number, fn: TimerCallback, label?: string): TimerHandle;
}

export type TimerErrorHandler = (error: unknown, label: string | undefined) => void;

const defaultOnError: TimerErrorHandler = (error, label) => {
  process.emitWarning(`mdmsim timer ${label ?? '(unnamed)'} failed: ${String((error as Error)?.stack ?? error)}`);
};

/** Wall-clock time and Node timers. */
export class RealClock implements Clock {
  readonly mode = 'real' as const;
  constructor(private readonly onError: TimerErrorHandler = defaultOnError) {}

  now(): number {
    return Date.now();
  }

  setTimer(delayMs: number, fn: TimerCallback, label?: string): TimerHandle {
    const due = Date.now() + Math.max(0, delayMs);
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    // Node timers overflow past 2^31-1 ms (~24.8 days): re-arm until the due time.
    const arm = () => {
      const wait = Math.min(Math.max(0, due - Date.now()), 2 ** 31 - 1);
      timer = setTimeout(() => {
        if (cancelled) return;
        if (Date.now() < due) return arm();
        runGuarded(fn, label, this.onError);
      }, wait);
      timer.unref();
    };
    arm();
    return {
      due,
      cancel: () => {
        cancelled = true;
        if (timer) clearTimeout(timer);
      },
    };
  }
}

interface VirtualTimer {
  due: number;
  seq: number;
  fn: TimerCallback;
  label: string | undefined;
  cancelled: boolean;
}

export interface AdvanceReport {
  from: number;
  to: number;
  timersRun: number;
}

/**
 * Waits until a component has no work in flight that this instant started (a request on the
 * wire, a push between the APNs mock and a Mac). Returns true if it had to wait, so the clock
 * knows to look again: one component's work can start another's.
 */
export type SettleHook = () => Promise<boolean>;

/** Runaway guard: a callback that keeps scheduling zero-delay timers would never finish. */
const MAX_TIMERS_PER_ADVANCE = 50_000_000;

/**
 * Time stands still until `advance` moves it. Timers live in a binary heap ordered by
 * (due, insertion order); an advance runs every timer that falls due, at its own instant.
 */
export class VirtualClock implements Clock {
  readonly mode = 'virtual' as const;
  private current: number;
  private readonly heap: VirtualTimer[] = [];
  private seq = 0;
  private live = 0;
  /** Advances run one after another, never interleaved. */
  private tail: Promise<unknown> = Promise.resolve();
  private readonly onError: TimerErrorHandler;
  private readonly settleHooks: SettleHook[] = [];
  /** Undefined until someone listens, so an unobserved clock pays one check per move. */
  private timeListeners: Array<(now: number) => void> | undefined;

  constructor(options: { start?: number | Date; onError?: TimerErrorHandler } = {}) {
    const start = options.start ?? Date.now();
    this.current = typeof start === 'number' ? start : start.getTime();
    if (!Number.isFinite(this.current)) throw new RangeError('VirtualClock start must be a valid time');
    this.onError = options.onError ?? defaultOnError;
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, fn: TimerCallback, label?: string): TimerHandle {
    const timer: VirtualTimer = {
      due: this.current + Math.max(0, Number.isFinite(delayMs) ? delayMs : 0),
      seq: this.seq++,
      fn,
      label,
      cancelled: false,
    };
    this.push(timer);
    this.live++;
    return {
      due: timer.due,
      cancel: () => {
        if (!timer.cancelled) {
          timer.cancelled = true;
          this.live--;
        }
      },
    };
  }

  /**
   * Work that timers start without awaiting it (a push travels to a Mac, which then connects)
   * must finish at its own instant too: after each instant, the clock waits for every hook
   * until a full round finds nothing in flight. Returns a function that removes the hook.
   */
  addSettleHook(hook: SettleHook): () => void {
    this.settleHooks.push(hook);
    return () => {
      const i = this.settleHooks.indexOf(hook);
      if (i >= 0) this.settleHooks.splice(i, 1);
    };
  }

  /**
   * Calls `listener(now)` synchronously whenever virtual time moves (before the timers of the
   * new instant run), e.g. to mirror the time into another thread. Returns a function that
   * removes the listener. A throwing listener is reported to the clock's error handler.
   */
  onTimeChange(listener: (now: number) => void): () => void {
    (this.timeListeners ??= []).push(listener);
    return () => {
      const ls = this.timeListeners;
      const i = ls ? ls.indexOf(listener) : -1;
      if (i < 0) return;
      ls!.splice(i, 1);
      if (ls!.length === 0) this.timeListeners = undefined;
    };
  }

  private setCurrent(time: number): void {
    if (time === this.current) return;
    this.current = time;
    const listeners = this.timeListeners;
    if (listeners === undefined) return;
    for (const listener of [...listeners]) {
      try {
        listener(time);
      } catch (error) {
        this.onError(error, 'time listener');
      }
    }
  }

  /** Waits for the settle hooks (what advance does after each instant); also useful after a direct action. */
  async settle(): Promise<void> {
    for (let round = 0; this.settleHooks.length > 0; round++) {
      if (round > 100_000) throw new Error('the clock could not settle: work keeps starting more work at the same instant');
      let waited = false;
      for (const hook of [...this.settleHooks]) {
        try {
          if (await hook()) waited = true;
        } catch (error) {
          this.onError(error, 'settle hook');
        }
      }
      if (!waited) return;
    }
  }

  /** Timers scheduled and not yet run or cancelled. */
  pendingTimers(): number {
    return this.live;
  }

  /** When the next live timer falls due, if any. */
  nextDue(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.due;
  }

  advance(byMs: number): Promise<AdvanceReport> {
    if (!Number.isFinite(byMs) || byMs < 0) {
      return Promise.reject(new RangeError(`cannot advance by ${byMs} ms: time only moves forward`));
    }
    return this.serialize(() => this.runUntil(this.current + byMs));
  }

  advanceTo(time: number | Date): Promise<AdvanceReport> {
    const target = typeof time === 'number' ? time : time.getTime();
    return this.serialize(() => {
      if (!(target >= this.current)) {
        throw new RangeError(
          `cannot move the clock back from ${new Date(this.current).toISOString()} to ${new Date(target).toISOString()}`,
        );
      }
      return this.runUntil(target);
    });
  }

  private serialize<T>(work: () => Promise<T> | T): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async runUntil(target: number): Promise<AdvanceReport> {
    const from = this.current;
    let timersRun = 0;
    // Work in flight from before this advance lands at the time it started, not later.
    if (this.settleHooks.length > 0) await this.settle();
    for (;;) {
      this.dropCancelled();
      const head = this.heap[0];
      if (!head || head.due > target) break;
      this.setCurrent(Math.max(this.current, head.due));
      // Everything due at this same instant runs together; timers they add for this
      // instant run in the next round, still before time moves on.
      const batch: VirtualTimer[] = [];
      while (this.heap.length > 0 && this.heap[0]!.due === head.due) {
        const t = this.pop()!;
        if (t.cancelled) continue;
        t.cancelled = true;
        this.live--;
        batch.push(t);
      }
      timersRun += batch.length;
      if (timersRun > MAX_TIMERS_PER_ADVANCE) {
        throw new Error(`advance ran more than ${MAX_TIMERS_PER_ADVANCE} timers: a timer keeps rescheduling itself`);
      }
      const pending = batch.map((t) => runGuarded(t.fn, t.label, this.onError));
      if (pending.some((p) => p !== undefined)) await Promise.all(pending);
      if (this.settleHooks.length > 0) await this.settle();
    }
    this.setCurrent(target);
    return { from, to: target, timersRun };
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private before(a: VirtualTimer, b: VirtualTimer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(t: VirtualTimer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): VirtualTimer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Runs a callback; a throw or a rejection goes to the error handler, never upward. */
function runGuarded(fn: TimerCallback, label: string | undefined, onError: TimerErrorHandler): Promise<void> | undefined {
  try {
    const result = fn();
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then(
        () => undefined,
        (error) => onError(error, label),
      );
    }
  } catch (error) {
    onError(error, label);
  }
  return undefined;
}

export function createClock(mode: ClockMode, options: { start?: number | Date; onError?: TimerErrorHandler } = {}): Clock {
  return mode === 'virtual' ? new VirtualClock(options) : new RealClock(options.onError);
}
