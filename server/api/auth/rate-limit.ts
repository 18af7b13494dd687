/**
 * Per-token rate limits as Kandji's gateway applies them: fixed windows of one second and one
 * hour, counted per token, with the gateway's headers on every answer and 429 past a limit.
 *
 * Which clock each window follows:
 * - The second window follows WALL time. "50 requests a second" is about load on the wire;
 *   measured on a virtual clock it would either never reset (the clock stands still between
 *   advances, so a test's 51st request would be refused forever) or reset at every jump.
 * - The hour window follows the SERVER's clock (virtual in a lab). A lab that plays seven days
 *   in a few wall seconds makes seven days of requests, as a real client would over a week;
 *   counted in wall time they would all land in one hour and lock the lab out.
 *
 * Only allowed requests count, as with the gateway: a client hammering while throttled does
 * not push its own reset further away.
 */

export interface RateLimits {
  /** Requests per second per token; 0 = unlimited (default 50). */
  perSecond: number;
  /** Requests per hour per token; 0 = unlimited (default 10,000). */
  perHour: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = { perSecond: 50, perHour: 10_000 };

export interface RateDecision {
  allowed: boolean;
  /** Lower-case header names as Kandji sends them; empty when both limits are off. */
  headers: Record<string, string>;
  /** Whole seconds until the refused request would be allowed (set when not allowed). */
  retryAfter?: number;
}

interface Window {
  name: 'second' | 'hour';
  limit: number;
  lengthMs: number;
  now: () => number;
}

interface Counter {
  start: number;
  count: number;
}

export class RateLimiter {
  private readonly windows: Window[];
  private readonly counters = new Map<string, Counter[]>();

  constructor(
    limits: RateLimits,
    clocks: { wallNow: () => number; clockNow: () => number },
  ) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value < 0) throw new RangeError(`rate limit ${name} must be a whole number ≥ 0 (0 = unlimited), got ${String(value)}`);
    }
    this.windows = [
      { name: 'second' as const, limit: limits.perSecond, lengthMs: 1_000, now: clocks.wallNow },
      { name: 'hour' as const, limit: limits.perHour, lengthMs: 3_600_000, now: clocks.clockNow },
    ].filter((w) => w.limit > 0);
  }

  get limits(): RateLimits {
    return {
      perSecond: this.windows.find((w) => w.name === 'second')?.limit ?? 0,
      perHour: this.windows.find((w) => w.name === 'hour')?.limit ?? 0,
    };
  }

  /** Counts one request of `key` if every window has room, and says so with the headers. */
  take(key: string): RateDecision {
    if (this.windows.length === 0) return { allowed: true, headers: {} };
    let counters = this.counters.get(key);
    if (!counters) {
      counters = this.windows.map(() => ({ start: -1, count: 0 }));
      this.counters.set(key, counters);
    }
    const state = this.windows.map((w, i) => {
      const now = w.now();
      const start = now - (now % w.lengthMs);
      const c = counters[i]!;
      if (c.start !== start) {
        c.start = start;
        c.count = 0;
      }
      return { w, c, resetMs: start + w.lengthMs - now };
    });
    const full = state.filter((s) => s.c.count >= s.w.limit);
    const allowed = full.length === 0;
    if (allowed) for (const s of state) s.c.count += 1;

    const headers: Record<string, string> = {};
    for (const s of state) {
      headers[`x-ratelimit-limit-${s.w.name}`] = String(s.w.limit);
      headers[`x-ratelimit-remaining-${s.w.name}`] = String(s.w.limit - s.c.count);
    }
    // The unprefixed trio describes the window closest to running out (the gateway's rule);
    // on a tie the shorter one, which resets first.
    const tightest = state.reduce((a, b) => (b.w.limit - b.c.count < a.w.limit - a.c.count ? b : a));
    headers['ratelimit-limit'] = String(tightest.w.limit);
    headers['ratelimit-remaining'] = String(tightest.w.limit - tightest.c.count);
    headers['ratelimit-reset'] = String(seconds(tightest.resetMs));
    if (allowed) return { allowed, headers };
    const retryAfter = Math.max(...full.map((s) => seconds(s.resetMs)));
    return { allowed, headers: { ...headers, 'retry-after': String(retryAfter) }, retryAfter };
  }
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
