import { RealClock, VirtualClock } from '../../../protocol/clock';

const T0 = Date.UTC(2026, 0, 1);

describe('VirtualClock', () => {
  it('stands still until advanced', async () => {
    const clock = new VirtualClock({ start: T0 });
    expect(clock.now()).toBe(T0);
    await new Promise((r) => setTimeout(r, 5));
    expect(clock.now()).toBe(T0);
    const report = await clock.advance(1000);
    expect(report).toEqual({ from: T0, to: T0 + 1000, timersRun: 0 });
    expect(clock.now()).toBe(T0 + 1000);
  });

  it('runs every timer that falls due, in time order, at its own instant', async () => {
    const clock = new VirtualClock({ start: T0 });
    const seen: Array<[string, number]> = [];
    clock.setTimer(3000, () => void seen.push(['c', clock.now()]));
    clock.setTimer(1000, () => void seen.push(['a', clock.now()]));
    clock.setTimer(2000, () => void seen.push(['b', clock.now()]));
    clock.setTimer(9000, () => void seen.push(['late', clock.now()]));
    const report = await clock.advance(5000);
    expect(seen).toEqual([
      ['a', T0 + 1000],
      ['b', T0 + 2000],
      ['c', T0 + 3000],
    ]);
    expect(report.timersRun).toBe(3);
    expect(clock.now()).toBe(T0 + 5000);
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextDue()).toBe(T0 + 9000);
  });

  it('keeps insertion order for timers due at the same instant', async () => {
    const clock = new VirtualClock({ start: T0 });
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) clock.setTimer(100, () => void seen.push(i));
    await clock.advance(100);
    expect(seen).toEqual([...Array(20).keys()]);
  });

  it('runs timers scheduled by timers when they fall inside the same advance (a recurring check-in)', async () => {
    const clock = new VirtualClock({ start: T0 });
    const times: number[] = [];
    const every15m = () => {
      times.push(clock.now());
      clock.setTimer(15 * 60_000, every15m);
    };
    clock.setTimer(15 * 60_000, every15m);
    await clock.advance(60 * 60_000);
    expect(times.map((t) => (t - T0) / 60_000)).toEqual([15, 30, 45, 60]);
  });

  it('awaits async work of one instant before moving to the next', async () => {
    const clock = new VirtualClock({ start: T0 });
    const log: string[] = [];
    clock.setTimer(10, async () => {
      log.push(`start@${clock.now() - T0}`);
      await new Promise((r) => setTimeout(r, 20));
      log.push(`end@${clock.now() - T0}`);
    });
    clock.setTimer(20, () => void log.push(`second@${clock.now() - T0}`));
    await clock.advance(100);
    expect(log).toEqual(['start@10', 'end@10', 'second@20']);
  });

  it('cancelled timers never run', async () => {
    const clock = new VirtualClock({ start: T0 });
    const fn = jest.fn();
    const t = clock.setTimer(10, fn);
    t.cancel();
    t.cancel();
    expect(clock.pendingTimers()).toBe(0);
    await clock.advance(100);
    expect(fn).not.toHaveBeenCalled();
  });

  it('a failing timer is reported and does not stop the advance', async () => {
    const errors: unknown[] = [];
    const clock = new VirtualClock({ start: T0, onError: (e, label) => errors.push([String((e as Error).message), label]) });
    const after = jest.fn();
    clock.setTimer(1, () => {
      throw new Error('boom');
    }, 'sync');
    clock.setTimer(2, async () => {
      throw new Error('async boom');
    }, 'async');
    clock.setTimer(3, after);
    await clock.advance(10);
    expect(errors).toEqual([
      ['boom', 'sync'],
      ['async boom', 'async'],
    ]);
    expect(after).toHaveBeenCalled();
  });

  it('serializes concurrent advances and refuses to go back', async () => {
    const clock = new VirtualClock({ start: T0 });
    const a = clock.advance(1000);
    const b = clock.advance(1000);
    expect((await a).to).toBe(T0 + 1000);
    expect((await b).to).toBe(T0 + 2000);
    await expect(clock.advanceTo(T0)).rejects.toThrow(/back/);
    await expect(clock.advance(-1)).rejects.toThrow(/forward/);
  });
});

describe('VirtualClock settle hooks', () => {
  it('lets work a timer started but did not await land at that instant, across components', async () => {
    const clock = new VirtualClock({ start: T0 });
    // A "push" leaves at +1h without being awaited; the "Mac" receiving it then connects.
    const landed: Array<[string, number]> = [];
    let inFlight: Promise<void> | undefined;
    let macWork: Promise<void> | undefined;
    clock.setTimer(3_600_000, () => {
      inFlight = new Promise<void>((r) => setTimeout(r, 5)).then(() => {
        landed.push(['push', clock.now()]);
        macWork = new Promise<void>((r) => setTimeout(r, 5)).then(() => {
          landed.push(['connect', clock.now()]);
        });
      });
    });
    const hook = (get: () => Promise<void> | undefined, clear: () => void) => async () => {
      const p = get();
      if (!p) return false;
      await p;
      clear();
      return true;
    };
    clock.addSettleHook(hook(() => inFlight, () => (inFlight = undefined)));
    const remove = clock.addSettleHook(hook(() => macWork, () => (macWork = undefined)));
    await clock.advance(2 * 3_600_000);
    expect(landed).toEqual([
      ['push', T0 + 3_600_000],
      ['connect', T0 + 3_600_000],
    ]);
    remove();
  });

  it('settles work started outside any timer before time moves', async () => {
    const clock = new VirtualClock({ start: T0 });
    let seenAt: number | undefined;
    let work: Promise<void> | undefined = new Promise<void>((r) => setTimeout(r, 5)).then(() => {
      seenAt = clock.now();
    });
    clock.addSettleHook(async () => {
      if (!work) return false;
      await work;
      work = undefined;
      return true;
    });
    await clock.advance(60_000);
    expect(seenAt).toBe(T0);
  });

  it('reports a failing hook and still advances', async () => {
    const errors: string[] = [];
    const clock = new VirtualClock({ start: T0, onError: (e, label) => errors.push(`${label}: ${(e as Error).message}`) });
    clock.addSettleHook(async () => {
      throw new Error('hook broke');
    });
    await clock.advance(1000);
    expect(clock.now()).toBe(T0 + 1000);
    expect(errors[0]).toBe('settle hook: hook broke');
  });
});

describe('VirtualClock.onTimeChange', () => {
  it('is called with each new instant before its timers run, and can be removed', async () => {
    const clock = new VirtualClock({ start: T0 });
    const seen: number[] = [];
    const order: string[] = [];
    const off = clock.onTimeChange((now) => {
      seen.push(now - T0);
      order.push(`time ${now - T0}`);
    });
    clock.setTimer(100, () => void order.push('timer 100'));
    clock.setTimer(100, () => void order.push('timer 100 again'));
    clock.setTimer(250, () => void order.push('timer 250'));
    await clock.advance(1000);
    expect(seen).toEqual([100, 250, 1000]);
    expect(order).toEqual(['time 100', 'timer 100', 'timer 100 again', 'time 250', 'timer 250', 'time 1000']);
    // No move, no call.
    await clock.advance(0);
    expect(seen).toHaveLength(3);
    off();
    await clock.advance(5);
    expect(seen).toHaveLength(3);
    expect(clock.now()).toBe(T0 + 1005);
  });

  it('reports a throwing listener and keeps time moving', async () => {
    const errors: string[] = [];
    const clock = new VirtualClock({ start: T0, onError: (_e, label) => void errors.push(label ?? '') });
    const seen: number[] = [];
    clock.onTimeChange(() => {
      throw new Error('boom');
    });
    clock.onTimeChange((now) => void seen.push(now));
    await clock.advance(10);
    expect(errors).toEqual(['time listener']);
    expect(seen).toEqual([T0 + 10]);
  });
});

describe('RealClock', () => {
  it('tells wall time and runs timers', async () => {
    const clock = new RealClock();
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(50);
    await new Promise<void>((resolve) => clock.setTimer(5, () => resolve()));
    const fn = jest.fn();
    clock.setTimer(5, fn).cancel();
    await new Promise((r) => setTimeout(r, 20));
    expect(fn).not.toHaveBeenCalled();
  });
});
