/**
 * The mirrored clock's protocol, both ends in one thread over a MessageChannel (the same
 * messages a Worker and its parentPort carry): time read from shared memory, worker timers
 * on main's clock, cancel, the settle round trip, and errors coming back to main.
 */
import { MessageChannel } from 'node:worker_threads';
import { VirtualClock } from '../../../protocol/clock';
import { ClockHost, MirroredClock, SharedTime } from '../../../lab/threaded/mirror';

const T0 = Date.UTC(2026, 0, 5, 9);

interface Pair {
  clock: VirtualClock;
  host: ClockHost;
  mirror: MirroredClock;
  errors: Array<[unknown, string | undefined]>;
  close(): void;
}

function pair(): Pair {
  const errors: Array<[unknown, string | undefined]> = [];
  const clock = new VirtualClock({ start: T0, onError: (e, label) => void errors.push([e, label]) });
  const { port1, port2 } = new MessageChannel();
  const host = new ClockHost(clock, port1);
  const mirror = new MirroredClock(host.buffer, port2);
  port1.on('message', (m) => host.handle(m));
  port2.on('message', (m) => mirror.handle(m));
  clock.addSettleHook(() => host.settleRemote());
  return {
    clock,
    host,
    mirror,
    errors,
    close: () => {
      host.close();
      port1.close();
    },
  };
}

/** Lets messages already posted cross the channel. */
const flush = () => new Promise<void>((r) => setTimeout(r, 5));

describe('SharedTime', () => {
  it('round-trips any millisecond value exactly', () => {
    const t = SharedTime.create(T0);
    const other = new SharedTime(t.buffer);
    for (const v of [T0, T0 + 0.25, 0, -1, 2 ** 52 + 1, 8.64e15]) {
      t.write(v);
      expect(other.read()).toBe(v);
    }
  });
});

describe('the mirrored clock', () => {
  let p: Pair;
  beforeEach(() => {
    p = pair();
  });
  afterEach(() => p.close());

  it('reads now() from main, synchronously, as main moves', async () => {
    expect(p.mirror.now()).toBe(T0);
    expect(p.mirror.mode).toBe('virtual');
    const seenInMirror: number[] = [];
    p.clock.setTimer(60_000, () => void seenInMirror.push(p.mirror.now()));
    await p.clock.advance(90_000);
    expect(seenInMirror).toEqual([T0 + 60_000]);
    expect(p.mirror.now()).toBe(T0 + 90_000);
  });

  it('fires worker timers in time order with main timers, each at its own instant', async () => {
    const seen: Array<[string, number]> = [];
    const at = (who: string, clockNow: () => number) => () => void seen.push([who, clockNow() - T0]);
    p.mirror.setTimer(250, at('worker 250', () => p.mirror.now()), 'w250');
    p.mirror.setTimer(100, at('worker 100', () => p.mirror.now()), 'w100');
    p.mirror.setTimer(400, at('worker 400', () => p.mirror.now()), 'w400');
    await flush();
    p.clock.setTimer(200, at('main 200', () => p.clock.now()));
    p.clock.setTimer(150, at('main 150', () => p.clock.now()));
    p.clock.setTimer(300, at('main 300', () => p.clock.now()));
    p.clock.setTimer(400, at('main 400', () => p.clock.now()));
    expect(p.host.pendingTimers).toBe(3);
    await p.clock.advance(1000);
    expect(seen.slice(0, 5)).toEqual([
      ['worker 100', 100],
      ['main 150', 150],
      ['main 200', 200],
      ['worker 250', 250],
      ['main 300', 300],
    ]);
    // Timers of one instant run together (their order across threads is not defined), and
    // all before time moves on.
    expect(seen.slice(5).sort()).toEqual([
      ['main 400', 400],
      ['worker 400', 400],
    ]);
    expect(p.host.pendingTimers).toBe(0);
    expect(p.mirror.pendingTimers).toBe(0);
  });

  it('awaits a worker timer’s work, and runs the timers it sets within the same advance', async () => {
    const seen: Array<[string, number]> = [];
    const tick = (n: number) => async () => {
      seen.push([`tick ${n}`, p.mirror.now() - T0]);
      await new Promise((r) => setTimeout(r, 2)); // real work takes real time; virtual time waits
      seen.push([`tick ${n} done`, p.mirror.now() - T0]);
      if (n < 3) p.mirror.setTimer(1000, tick(n + 1), 'tick');
    };
    p.mirror.setTimer(1000, tick(1), 'tick');
    await flush();
    p.clock.setTimer(1500, () => void seen.push(['main', p.clock.now() - T0]));
    await p.clock.advance(10_000);
    expect(seen).toEqual([
      ['tick 1', 1000],
      ['tick 1 done', 1000],
      ['main', 1500],
      ['tick 2', 2000],
      ['tick 2 done', 2000],
      ['tick 3', 3000],
      ['tick 3 done', 3000],
    ]);
  });

  it('registers a timer set by worker work nobody awaits before the instant settles', async () => {
    // A worker timer starts work it does not await (as a push does) and that work sets a
    // timer 50 ms on, in real time later. The settle round trip waits for the worker, and the
    // registration, sent first on the same port, reaches main before the answer: main's clock
    // knows about the timer before it moves on, and it falls due at T0 + 150.
    const seen: number[] = [];
    let busy = 0;
    p.mirror.settleWith(async () => {
      if (busy === 0) return false;
      while (busy > 0) await new Promise((r) => setTimeout(r, 1));
      return true;
    });
    p.mirror.setTimer(100, () => {
      busy++;
      setTimeout(() => {
        p.mirror.setTimer(50, () => void seen.push(p.mirror.now() - T0), 'from unawaited work');
        busy--;
      }, 5);
    });
    await flush();
    await p.clock.advance(120);
    expect(seen).toEqual([]);
    expect(p.clock.now()).toBe(T0 + 120);
    expect(p.host.pendingTimers).toBe(1);
    await p.clock.advance(1000);
    expect(seen).toEqual([150]);
  });

  it('cancels: a cancelled worker timer never runs, and its main timer is gone', async () => {
    const ran: string[] = [];
    const a = p.mirror.setTimer(100, () => void ran.push('a'));
    p.mirror.setTimer(200, () => void ran.push('b'));
    expect(a.due).toBe(T0 + 100);
    await flush();
    expect(p.clock.pendingTimers()).toBe(2);
    a.cancel();
    a.cancel();
    await flush();
    expect(p.clock.pendingTimers()).toBe(1);
    await p.clock.advance(500);
    expect(ran).toEqual(['b']);
    // Cancelling before main has even seen the timer works too.
    p.mirror.setTimer(10, () => void ran.push('c')).cancel();
    await p.clock.advance(500);
    expect(ran).toEqual(['b']);
    expect(p.clock.pendingTimers()).toBe(0);
  });

  it('reports a failing worker timer to main’s clock, with its label, and keeps going', async () => {
    const ran: string[] = [];
    p.mirror.setTimer(10, async () => {
      throw new Error('policy sweep broke');
    }, 'sweep');
    p.mirror.setTimer(20, () => void ran.push('after'));
    await flush();
    await p.clock.advance(100);
    expect(ran).toEqual(['after']);
    expect(p.errors).toHaveLength(1);
    expect(String((p.errors[0]![0] as Error).message)).toMatch(/policy sweep broke/);
    expect(p.errors[0]![1]).toBe('sweep');
  });

  it('never hangs main on a worker that is gone: close() ends fires and settles in flight', async () => {
    p.mirror.setTimer(10, () => new Promise(() => undefined), 'never ends');
    await flush();
    const advancing = p.clock.advance(100);
    await flush();
    p.host.close(new Error('the server thread exited (code 1)'));
    await advancing;
    expect(p.clock.now()).toBe(T0 + 100);
    expect(String((p.errors[0]?.[0] as Error)?.message)).toMatch(/exited/);
    await expect(p.host.settleRemote()).resolves.toBe(false);
  });
});
