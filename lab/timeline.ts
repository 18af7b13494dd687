/**
 * The timeline a lab prints: one line per exchange, in virtual time, from → to, what, and
 * the device it concerns. Routine traffic (an agent checking in every 15 minutes, a posture
 * sync that changed nothing) is folded into one line per device (or per integration) per day,
 * so a ten-day story stays readable.
 */
import type { EventRecord } from '../server/storage/types';

export interface TimelineOptions {
  /** Time 0 of the story: lines show `day N HH:MM:SS` from it. */
  start: number;
  /** A short name for a device (default: the first 8 characters of its UDID). */
  labelOf?: (udid: string) => string;
  /** ANSI colours (for a TTY). */
  color?: boolean;
  /** Fold recurring agent check-ins and routine inventory into daily counts (default true). */
  fold?: boolean;
  /** A line of explanation to print under an event (a scenario file's `explain`), or undefined. */
  annotate?: (e: EventRecord) => string | undefined;
}

const DAY = 86_400_000;

const PARTY: Record<string, string> = { device: 'Mac', mdm: 'MDM', apns: 'APNs', agent: 'agent', operator: 'operator', policy: 'policy', clock: 'clock', posture: 'posture', tailnet: 'tailnet' };

const COLOR_OF: Array<[RegExp, string]> = [
  [/^agent\.reinstall\.fired|^mdm\.command\.result.*|fault/, '\x1b[33m'],
  [/^posture\.(paused|sync\.failed)|access denied/, '\x1b[31m'],
  [/^posture\./, '\x1b[34m'],
  [/failed|rejected|error/i, '\x1b[31m'],
  [/^agent\./, '\x1b[36m'],
  [/^apns\.|^mdm\.push/, '\x1b[35m'],
  [/^mac\./, '\x1b[32m'],
];

/**
 * The story's calendar day of a time: day 0 is the start's date (UTC), so a time of day always
 * reads with its own day (`day 1 08:46`, not `day 0 08:46` for the next morning).
 */
export function storyDay(at: number, start: number): number {
  return Math.floor(at / DAY) - Math.floor(start / DAY);
}

export function virtualTime(at: number, start: number): string {
  const day = storyDay(at, start);
  const t = new Date(at).toISOString().slice(11, 19);
  return `day ${String(day).padStart(2)} ${t}`;
}

/** Whether an event is routine traffic that the timeline folds. */
export function isRoutine(e: EventRecord): boolean {
  if (e.type === 'agent.checkin') return (e.data as { kind?: string } | undefined)?.kind !== 'install';
  // An agent that cannot reach its server fails every 15 minutes: one line a day says so.
  if (e.type === 'mac.agent.checkin.failed') return (e.data as { kind?: string } | undefined)?.kind !== 'install';
  // So does an agent refusing an inspected connection; the install's refusal stays visible.
  if (e.type === 'agent.pin-failure') return (e.data as { kind?: string } | undefined)?.kind !== 'install';
  // Every connection through the proxy is a CONNECT: those let through fold; a refusal stays visible.
  if (e.type === 'network.proxy.connect') {
    const outcome = (e.data as { outcome?: string } | undefined)?.outcome;
    return outcome === 'tunnel' || outcome === 'inspected';
  }
  // A scheduled posture sync that changed nothing (every 15 minutes, all day); one caused by
  // creating or updating the integration stays visible.
  if (e.type === 'posture.sync') {
    const d = e.data as { changes?: number; trigger?: string } | undefined;
    return d?.changes === 0 && d.trigger === 'schedule';
  }
  return false;
}

export function formatEvent(e: EventRecord, options: TimelineOptions): string {
  const who = e.udid === undefined ? '' : (options.labelOf?.(e.udid) ?? e.udid.slice(0, 8));
  const arrow = `${PARTY[e.from] ?? e.from} → ${PARTY[e.to] ?? e.to}`;
  const line = `${virtualTime(e.at, options.start)}  ${who.padEnd(7)} ${arrow.padEnd(18)} ${e.summary}`;
  if (!options.color) return line;
  const color = COLOR_OF.find(([re]) => re.test(e.type) || re.test(e.summary))?.[1];
  return color ? `${color}${line}\x1b[0m` : line;
}

/** What a proxy's CONNECTs fold by: tunnelled and inspected ones are different stories. */
function connectVariant(e: EventRecord): string {
  const d = e.data as { outcome?: string; exempt?: boolean } | undefined;
  return d?.outcome === 'tunnel' && d.exempt ? 'tunnel-exempt' : (d?.outcome ?? '');
}

const CONNECT_WORDS: Record<string, string> = {
  tunnel: 'tunnelled through the proxy',
  'tunnel-exempt': 'tunnelled untouched (exempt from inspection)',
  inspected: 'TLS-inspected by the proxy',
};

/** The lines of a timeline, folding routine traffic per device per day (a line where the day's first one was). */
export function formatTimeline(events: readonly EventRecord[], options: TimelineOptions): string[] {
  const fold = options.fold ?? true;
  type Folded = { type: string; variant: string; udid: string | undefined; count: number; first: number; last: number; sample: string };
  const entries: Array<string | Folded> = [];
  const open = new Map<string, Folded>();
  for (const e of events) {
    if (fold && isRoutine(e)) {
      const variant = e.type === 'network.proxy.connect' ? connectVariant(e) : '';
      const key = `${e.type}|${variant}|${e.udid ?? ''}|${storyDay(e.at, options.start)}`;
      const f = open.get(key);
      if (f) {
        f.count++;
        f.last = e.at;
      } else {
        const created: Folded = { type: e.type, variant, udid: e.udid, count: 1, first: e.at, last: e.at, sample: e.summary };
        open.set(key, created);
        entries.push(created);
      }
      continue;
    }
    entries.push(formatEvent(e, options));
    const note = options.annotate?.(e);
    if (note !== undefined) entries.push(`${' '.repeat(36)}↳ ${options.color ? `\x1b[3m${note}\x1b[0m` : note}`);
  }
  return entries.map((entry) => {
    if (typeof entry === 'string') return entry;
    const who = entry.udid === undefined ? '' : (options.labelOf?.(entry.udid) ?? entry.udid.slice(0, 8));
    const span = entry.count === 1 ? '' : `, the last at ${virtualTime(entry.last, options.start).replace(/\s+/g, ' ')}`;
    const [arrow, what] =
      entry.type === 'posture.sync'
        ? ['posture → MDM', `posture sync${entry.count === 1 ? '' : 's'} with no change`]
        : entry.type === 'mac.agent.checkin.failed'
          ? ['agent → MDM', `failed agent check-in${entry.count === 1 ? '' : 's'} (the first: ${entry.sample})`]
          : entry.type === 'agent.pin-failure'
            ? ['agent → MDM', `agent connection${entry.count === 1 ? '' : 's'} refused for the pin (the first: ${entry.sample})`]
            : entry.type === 'network.proxy.connect'
              ? ['Mac → proxy', `CONNECT${entry.count === 1 ? '' : 's'} ${CONNECT_WORDS[entry.variant] ?? 'through the proxy'} (the first: ${entry.sample})`]
              : ['agent → MDM', `routine agent check-in${entry.count === 1 ? '' : 's'}`];
    const line = `${virtualTime(entry.first, options.start)}  ${who.padEnd(7)} ${arrow.padEnd(18)} ${entry.count} ${what}${span}`;
    return options.color ? `\x1b[2m${line}\x1b[0m` : line;
  });
}
