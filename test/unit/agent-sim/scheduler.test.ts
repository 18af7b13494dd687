import { VirtualClock } from '../../../protocol/clock';
import { BucketScheduler, nextOnGrid } from '../../../agent-sim/scheduler';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const MIN = 60_000;

describe('BucketScheduler', () => {
  test('one clock timer per distinct instant, however many items', async () => {
    const clock = new VirtualClock({ start: T0 });
    const ran: Array<[number, number]> = [];
    const s = new BucketScheduler<number>(clock, (item, at) => {
      ran.push([item, at]);
    });
    for (let i = 0; i < 1500; i++) s.schedule(T0 + ((i % 15) + 1) * MIN, i);
    expect(s.timerCount).toBe(15);
    expect(clock.pendingTimers()).toBe(15);
    expect(s.size).toBe(1500);
    await clock.advance(15 * MIN);
    expect(ran).toHaveLength(1500);
    expect(ran.every(([item, at]) => at === T0 + ((item % 15) + 1) * MIN)).toBe(true);
    expect(s.timerCount).toBe(0);
  });

  test("the clock waits for an instant's work before it moves on", async () => {
    const clock = new VirtualClock({ start: T0 });
    const log: string[] = [];
    const s = new BucketScheduler<string>(clock, async (item, at) => {
      await new Promise((r) => setTimeout(r, 5));
      log.push(`${item}@${(at - T0) / MIN} now=${(clock.now() - T0) / MIN}`);
    });
    s.schedule(T0 + MIN, 'a');
    s.schedule(T0 + MIN, 'b');
    s.schedule(T0 + 2 * MIN, 'c');
    await clock.advance(5 * MIN);
    expect(log).toEqual(['a@1 now=1', 'b@1 now=1', 'c@2 now=2']);
  });

  test('items run concurrently within an instant', async () => {
    const clock = new VirtualClock({ start: T0 });
    let running = 0;
    let peak = 0;
    const s = new BucketScheduler<number>(clock, async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
    });
    for (let i = 0; i < 50; i++) s.schedule(T0 + MIN, i);
    await clock.advance(MIN);
    expect(peak).toBe(50);
  });

  test('a failing item is reported and does not stop the others; stop() cancels everything', async () => {
    const clock = new VirtualClock({ start: T0 });
    const errors: unknown[] = [];
    const ran: number[] = [];
    const s = new BucketScheduler<number>(
      clock,
      async (i) => {
        if (i === 1) throw new Error('boom');
        ran.push(i);
      },
      'test',
      (e) => errors.push(e),
    );
    [0, 1, 2].forEach((i) => s.schedule(T0 + MIN, i));
    s.schedule(T0 + 2 * MIN, 3);
    await clock.advance(MIN);
    expect(ran).toEqual([0, 2]);
    expect(errors).toHaveLength(1);
    s.stop();
    await clock.advance(MIN);
    expect(ran).toEqual([0, 2]);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('nextOnGrid', () => {
  test('the first instant at or after t on the phase-offset grid', () => {
    const period = 15 * MIN;
    expect(nextOnGrid(T0, period, 0)).toBe(T0);
    expect(nextOnGrid(T0 + 1, period, 0)).toBe(T0 + period);
    expect(nextOnGrid(T0 + 1, period, 7 * MIN)).toBe(T0 + 7 * MIN);
    expect(nextOnGrid(T0 + 8 * MIN, period, 7 * MIN)).toBe(T0 + 22 * MIN);
    for (let p = 0; p < 15; p++) expect((nextOnGrid(T0 + 12345, period, p * MIN) - p * MIN) % period).toBe(0);
  });
});
