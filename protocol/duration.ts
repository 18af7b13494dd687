/**
 * Durations as people type them into a lab: `15m`, `36h`, `8d`, `1d12h`, `90s`, `500ms`,
 * `2w`, or ISO-8601 (`P8D`, `PT36H`, `P1DT2H30M`, `P2W`). Months and years are refused:
 * they have no fixed length, and a virtual clock must advance by an exact amount.
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** Ten years: anything longer is almost certainly a typo (and overflows timers). */
export const MAX_DURATION_MS = 10 * 365 * 86_400_000;

export class DurationError extends Error {
  constructor(readonly input: unknown, detail?: string) {
    super(
      `expected a duration like "15m", "36h", "8d", "1d12h" or ISO-8601 "P8D"/"PT36H"; got ${JSON.stringify(input)}` +
        (detail ? ` (${detail})` : ''),
    );
    this.name = 'DurationError';
  }
}

const COMPACT = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/;
const ISO = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Parses a duration into milliseconds; a plain number is taken as milliseconds. */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') return checked(input, input);
  if (typeof input !== 'string') throw new DurationError(input);
  const text = input.trim();
  if (text === '') throw new DurationError(input);
  if (/^[Pp]/.test(text)) return checked(parseIso(text.toUpperCase(), input), input);
  if (/^\d+$/.test(text)) return checked(Number(text), input);
  let rest = text.toLowerCase();
  let total = 0;
  while (rest.length > 0) {
    const m = COMPACT.exec(rest);
    if (!m) throw new DurationError(input, `cannot read "${rest}"`);
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return checked(total, input);
}

function parseIso(text: string, original: unknown): number {
  // In the date part (before T) M means months; in the time part it means minutes.
  if (/[YM]/.test(text.split('T')[0]!)) {
    throw new DurationError(original, 'months and years have no fixed length; use days, e.g. P30D');
  }
  const m = ISO.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) throw new DurationError(original);
  const [, w, d, h, min, s] = m;
  return (
    num(w) * UNIT_MS.w! + num(d) * UNIT_MS.d! + num(h) * UNIT_MS.h! + num(min) * UNIT_MS.m! + num(s) * UNIT_MS.s!
  );
}

function num(v: string | undefined): number {
  return v === undefined ? 0 : Number(v);
}

function checked(ms: number, original: unknown): number {
  if (!Number.isFinite(ms) || ms < 0) throw new DurationError(original, 'must be a non-negative amount');
  if (ms > MAX_DURATION_MS) throw new DurationError(original, 'longer than ten years');
  return Math.round(ms);
}

/** `90061000` → `"1d1h1m1s"`: the inverse, for logs and timelines. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['d', UNIT_MS.d!], ['h', UNIT_MS.h!], ['m', UNIT_MS.m!], ['s', UNIT_MS.s!], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
