/**
 * A VirtualClock mirrored into another thread.
 *
 * The main thread owns the one VirtualClock. A `ClockHost` on main writes every move of its
 * time into a SharedArrayBuffer; a `MirroredClock` in the worker reads `now()` from it,
 * synchronously. Worker timers live on main's clock:
 *
 *   worker                                   main
 *   setTimer ──{timer id due label}────────▶ clock.setTimer(due − now, fire)
 *   handle.cancel ──{cancel id}────────────▶ handle.cancel()
 *            ◀──────────────{fire id}─────── the timer falls due (time is already `due`)
 *   runs fn, awaits it ──{fired id error?}─▶ the main timer's promise settles
 *            ◀──────────────{settle seq}──── a settle hook round of main's clock
 *   waits for its own work ──{settled seq waited}▶
 *
 * Messages on one port arrive in order, so a timer the worker registers while it works for an
 * instant (inside a fired callback, or for a request it served) reaches main before the
 * `fired` or `settled` that ends that work: main's clock knows about it before it moves on.
 *
 * Both ends speak over any MessagePort-like endpoint (a Worker and its parentPort, or the
 * two ends of a MessageChannel in one thread, as the unit tests do) and ignore messages that
 * are not theirs, so the same port can carry other traffic.
 */
import type { Clock, TimerCallback, TimerHandle, VirtualClock } from '../../protocol/clock';

/** What the worker sends about its clock. */
export type WorkerClockMessage =
  | { t: 'clock.timer'; id: number; due: number; label?: string }
  | { t: 'clock.cancel'; id: number }
  | { t: 'clock.fired'; id: number; error?: SerializedError }
  | { t: 'clock.settled'; seq: number; waited: boolean; error?: SerializedError };

/** What main sends about its clock. */
export type MainClockMessage = { t: 'clock.fire'; id: number } | { t: 'clock.settle'; seq: number };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

export function deserializeError(e: SerializedError, where: string): Error {
  const error = new Error(`${where}: ${e.message}`);
  error.name = e.name;
  if (e.stack) error.stack = `${e.name}: ${where}: ${e.message}\n    --- in the server thread ---\n${e.stack.split('\n').slice(1).join('\n')}`;
  return error;
}

/** The minimum of a port both ends need. */
export interface Endpoint {
  postMessage(message: unknown): void;
}

/** Bytes of the shared time cell. */
export const TIME_CELL_BYTES = 8;

/**
 * The shared time: a float64 stored through its bit pattern with Atomics, so a read never
 * tears and any millisecond value (fractions included) round-trips exactly.
 */
export class SharedTime {
  private readonly cell: BigInt64Array;
  private readonly f64 = new Float64Array(1);
  private readonly bits = new BigInt64Array(this.f64.buffer);

  constructor(readonly buffer: SharedArrayBuffer) {
    if (buffer.byteLength < TIME_CELL_BYTES) throw new RangeError('the shared time needs 8 bytes');
    this.cell = new BigInt64Array(buffer, 0, 1);
  }

  static create(now: number): SharedTime {
    const t = new SharedTime(new SharedArrayBuffer(TIME_CELL_BYTES));
    t.write(now);
    return t;
  }

  write(now: number): void {
    this.f64[0] = now;
    Atomics.store(this.cell, 0, this.bits[0]!);
  }

  read(): number {
    this.bits[0] = Atomics.load(this.cell, 0);
    return this.f64[0]!;
  }
}

/**
 * Main's side: mirrors `clock`'s time into the shared buffer and keeps the worker's timers on
 * `clock`. Feed it every message from the worker (`handle` returns false for others).
 */
export class ClockHost {
  readonly time: SharedTime;
  private readonly timers = new Map<number, TimerHandle>();
  private readonly firing = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private readonly settling = new Map<number, { resolve: (waited: boolean) => void; reject: (e: Error) => void }>();
  private settleSeq = 0;
  private readonly stopListening: () => void;
  private closedBy: Error | undefined;

  constructor(
    private readonly clock: VirtualClock,
    private readonly port: Endpoint,
    time?: SharedTime,
  ) {
    this.time = time ?? SharedTime.create(clock.now());
    this.time.write(clock.now());
    this.stopListening = clock.onTimeChange((now) => this.time.write(now));
  }

  /** The buffer to hand to the worker (workerData). */
  get buffer(): SharedArrayBuffer {
    return this.time.buffer;
  }

  /** Worker timers registered on main's clock and not yet run or cancelled. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  handle(message: unknown): boolean {
    const m = message as WorkerClockMessage;
    switch (m?.t) {
      case 'clock.timer': {
        if (this.closedBy) return true;
        const id = m.id;
        const handle = this.clock.setTimer(m.due - this.clock.now(), () => this.fire(id), m.label);
        this.timers.set(id, handle);
        return true;
      }
      case 'clock.cancel':
        this.timers.get(m.id)?.cancel();
        this.timers.delete(m.id);
        return true;
      case 'clock.fired': {
        const f = this.firing.get(m.id);
        this.firing.delete(m.id);
        if (f) m.error ? f.reject(deserializeError(m.error, 'timer in the server thread')) : f.resolve();
        return true;
      }
      case 'clock.settled': {
        const s = this.settling.get(m.seq);
        this.settling.delete(m.seq);
        if (s) m.error ? s.reject(deserializeError(m.error, 'settling the server thread')) : s.resolve(m.waited);
        return true;
      }
      default:
        return false;
    }
  }

  /**
   * One settle round trip: resolves once the worker has no work in flight, with true if it
   * had to wait (a settle hook's answer). False at once after close().
   */
  settleRemote(): Promise<boolean> {
    if (this.closedBy) return Promise.resolve(false);
    const seq = ++this.settleSeq;
    return new Promise<boolean>((resolve, reject) => {
      this.settling.set(seq, { resolve, reject });
      this.port.postMessage({ t: 'clock.settle', seq } satisfies MainClockMessage);
    });
  }

  /**
   * The worker is gone (or the lab stops): its timers are cancelled, and every fire or settle
   * still waiting settles, so an advance never hangs on a dead thread. A fire in flight
   * rejects with `reason` (the clock reports it); a settle answers false.
   */
  close(reason = new Error('the server thread has stopped')): void {
    if (this.closedBy) return;
    this.closedBy = reason;
    this.stopListening();
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    for (const f of this.firing.values()) f.reject(reason);
    this.firing.clear();
    for (const s of this.settling.values()) s.resolve(false);
    this.settling.clear();
  }

  private fire(id: number): Promise<void> | undefined {
    this.timers.delete(id);
    if (this.closedBy) return undefined;
    return new Promise<void>((resolve, reject) => {
      this.firing.set(id, { resolve, reject });
      this.port.postMessage({ t: 'clock.fire', id } satisfies MainClockMessage);
    });
  }
}

interface RemoteTimer {
  fn: TimerCallback;
  label: string | undefined;
}

/**
 * The worker's Clock: `now()` from the shared buffer, timers on main's clock. Feed it every
 * message from main (`handle` returns false for others). `settleWith` says how to wait for
 * the worker's own work when main asks (until then a settle answers "not busy").
 */
export class MirroredClock implements Clock {
  readonly mode = 'virtual' as const;
  private readonly time: SharedTime;
  private readonly timers = new Map<number, RemoteTimer>();
  private nextId = 1;
  private settleHook: (() => Promise<boolean>) | undefined;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly port: Endpoint,
  ) {
    this.time = new SharedTime(buffer);
  }

  now(): number {
    return this.time.read();
  }

  setTimer(delayMs: number, fn: TimerCallback, label?: string): TimerHandle {
    const id = this.nextId++;
    const due = this.now() + Math.max(0, Number.isFinite(delayMs) ? delayMs : 0);
    this.timers.set(id, { fn, label });
    const message: WorkerClockMessage = label === undefined ? { t: 'clock.timer', id, due } : { t: 'clock.timer', id, due, label };
    this.port.postMessage(message);
    return {
      due,
      cancel: () => {
        if (this.timers.delete(id)) this.port.postMessage({ t: 'clock.cancel', id } satisfies WorkerClockMessage);
      },
    };
  }

  /** Timers set here and not yet run or cancelled. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  settleWith(hook: () => Promise<boolean>): void {
    this.settleHook = hook;
  }

  handle(message: unknown): boolean {
    const m = message as MainClockMessage;
    switch (m?.t) {
      case 'clock.fire':
        void this.fire(m.id);
        return true;
      case 'clock.settle':
        void this.settle(m.seq);
        return true;
      default:
        return false;
    }
  }

  private async fire(id: number): Promise<void> {
    const timer = this.timers.get(id);
    this.timers.delete(id);
    let error: SerializedError | undefined;
    if (timer) {
      try {
        await timer.fn();
      } catch (e) {
        error = serializeError(e);
      }
    }
    this.port.postMessage((error ? { t: 'clock.fired', id, error } : { t: 'clock.fired', id }) satisfies WorkerClockMessage);
  }

  private async settle(seq: number): Promise<void> {
    let message: WorkerClockMessage;
    try {
      const waited = this.settleHook ? await this.settleHook() : false;
      message = { t: 'clock.settled', seq, waited };
    } catch (e) {
      message = { t: 'clock.settled', seq, waited: false, error: serializeError(e) };
    }
    this.port.postMessage(message);
  }
}
