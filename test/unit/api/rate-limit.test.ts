/** The per-token limiter on injected clocks: windows, headers, which window the trio reports, Retry-After. */
import { RateLimiter } from '../../../server/api/auth/rate-limit';

function limiter(perSecond: number, perHour: number, start = { wall: 1_000_000_000_000, clock: Date.UTC(2026, 0, 5, 9, 0, 0) }) {
  const now = { ...start };
  return { now, l: new RateLimiter({ perSecond, perHour }, { wallNow: () => now.wall, clockNow: () => now.clock }) };
}

describe('RateLimiter', () => {
  it('allows perSecond in a wall second, refuses the next with Retry-After 1, allows again in the next second', () => {
    const { now, l } = limiter(2, 0);
    expect(l.take('t').headers['x-ratelimit-remaining-second']).toBe('1');
    expect(l.take('t').headers['x-ratelimit-remaining-second']).toBe('0');
    const refused = l.take('t');
    expect(refused).toMatchObject({ allowed: false, retryAfter: 1 });
    expect(refused.headers['retry-after']).toBe('1');
    now.wall += 1000;
    expect(l.take('t').allowed).toBe(true);
  });

  it('counts each token apart', () => {
    const { l } = limiter(1, 0);
    expect(l.take('a').allowed).toBe(true);
    expect(l.take('a').allowed).toBe(false);
    expect(l.take('b').allowed).toBe(true);
  });

  it('keeps the hour on the server clock: wall seconds passing do not reset it, a clock jump does', () => {
    const { now, l } = limiter(0, 2);
    l.take('t');
    l.take('t');
    now.wall += 7_200_000;
    const refused = l.take('t');
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfter).toBe(3600);
    now.clock += 7 * 86_400_000;
    expect(l.take('t').allowed).toBe(true);
  });

  it('does not count refused requests', () => {
    const { now, l } = limiter(1, 3);
    l.take('t');
    l.take('t');
    l.take('t');
    now.wall += 1000;
    expect(l.take('t').headers['x-ratelimit-remaining-hour']).toBe('1');
  });

  it('reports the window closest to running out in ratelimit-limit/remaining/reset', () => {
    const { now, l } = limiter(50, 3);
    now.wall += 250; // 750 ms left in this wall second
    const first = l.take('t').headers;
    expect(first).toMatchObject({ 'ratelimit-limit': '3', 'ratelimit-remaining': '2', 'ratelimit-reset': '3600' });
    const { l: l2, now: now2 } = limiter(2, 100);
    now2.wall += 250;
    expect(l2.take('t').headers).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '1', 'ratelimit-reset': '1' });
  });

  it('sends every header of the fact sheet, and none when both limits are off', () => {
    const { l } = limiter(50, 10_000);
    expect(Object.keys(l.take('t').headers).sort()).toEqual(
      ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'x-ratelimit-limit-hour', 'x-ratelimit-limit-second', 'x-ratelimit-remaining-hour', 'x-ratelimit-remaining-second'],
    );
    expect(limiter(0, 0).l.take('t')).toEqual({ allowed: true, headers: {} });
  });

  it('refuses a limit that is not a whole number ≥ 0', () => {
    expect(() => limiter(-1, 0)).toThrow(/whole number ≥ 0/);
    expect(() => limiter(1.5, 0)).toThrow(/perSecond/);
  });
});
