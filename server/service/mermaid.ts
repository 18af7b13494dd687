/**
 * A run's events as a Mermaid sequence diagram: the Mac, the MDM server, APNs and the agent as
 * participants (one Mac and one agent per device when several devices appear), one arrow per
 * exchange, labelled with its virtual time. What happens inside one party (the Mac installing
 * the app, the policy deciding, an operator's fault) is a note over it. Routine agent
 * check-ins are folded into one arrow per device per day, as on the terminal timeline, so a
 * month of a fleet stays a diagram a browser can draw.
 */
import type { EventRecord } from '../storage/types';

export interface MermaidOptions {
  /** The story's first day: labels show `day N HH:MM`, N counted in calendar days from it (default: the first event's). */
  start?: number;
  /** A short name for a device (default: the first 8 characters of its id). */
  labelOf?: (udid: string) => string;
  /** Arrows and notes at most (default 2,000); the rest is summarised in a final note. */
  maxLines?: number;
}

const DAY = 86_400_000;
const DEFAULT_MAX_LINES = 2_000;

type Party = 'Mac' | 'MDM' | 'APNs' | 'Agent';

/** Where an event's `from`/`to` sits in the diagram; undefined: a note (operator, policy, clock). */
function partyOf(name: string): Party | undefined {
  switch (name) {
    case 'device':
    case 'mac':
      return 'Mac';
    case 'mdm':
    case 'policy':
      return 'MDM';
    case 'apns':
      return 'APNs';
    case 'agent':
      return 'Agent';
    default:
      return undefined;
  }
}

/**
 * Mermaid message text: one line, and the characters its grammar gives meaning to (`;` ends a
 * statement, `#` starts an entity code, `<`/`>` are read as markup) written as entity codes, in
 * one pass so that a code's own `#` and `;` stay as they are. Colons after the first are plain text.
 */
export function mermaidText(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/[#;<>]/g, (c) => `#${c.charCodeAt(0)};`)
    .trim();
}

/** `day N HH:MM`, N the calendar day (UTC) counted from the start's date. */
function clockLabel(at: number, start: number): string {
  const day = Math.floor(at / DAY) - Math.floor(start / DAY);
  return `day ${day} ${new Date(at).toISOString().slice(11, 16)}`;
}

function isRoutineCheckin(e: EventRecord): boolean {
  return e.type === 'agent.checkin' && (e.data as { kind?: string } | undefined)?.kind !== 'install';
}

export function eventsToMermaid(events: readonly EventRecord[], options: MermaidOptions = {}): string {
  const start = options.start ?? events[0]?.at ?? 0;
  const maxLines = options.maxLines ?? DEFAULT_MAX_LINES;
  const label = (udid: string) => options.labelOf?.(udid) ?? udid.slice(0, 8);

  const devices: string[] = [];
  const seen = new Set<string>();
  for (const e of events) {
    if (e.udid !== undefined && !seen.has(e.udid)) {
      seen.add(e.udid);
      devices.push(e.udid);
    }
  }
  const several = devices.length > 1;
  const index = new Map(devices.map((udid, i) => [udid, i + 1]));
  /** The participant id of a party for an event's device. */
  const idOf = (party: Party, udid: string | undefined): string => {
    if ((party === 'Mac' || party === 'Agent') && several) return `${party}${udid === undefined ? '' : index.get(udid)}`;
    return party;
  };

  const out: string[] = ['sequenceDiagram'];
  // Participants in the order a reader expects: each Mac, the server, APNs, each agent.
  const macs = several ? devices.map((u) => `    participant ${idOf('Mac', u)} as Mac ${mermaidText(label(u))}`) : [`    participant Mac${devices.length === 1 ? ` as Mac ${mermaidText(label(devices[0]!))}` : ''}`];
  out.push(...macs, '    participant MDM as MDM server', '    participant APNs');
  out.push(...(several ? devices.map((u) => `    participant ${idOf('Agent', u)} as agent ${mermaidText(label(u))}`) : ['    participant Agent as agent']));

  const body: string[] = [];
  const folded = new Map<string, { line: number; count: number; udid: string; first: number; last: number }>();
  for (const e of events) {
    const when = clockLabel(e.at, start);
    if (isRoutineCheckin(e) && e.udid !== undefined) {
      const key = `${e.udid}|${Math.floor(e.at / DAY)}`;
      const f = folded.get(key);
      if (f) {
        f.count++;
        f.last = e.at;
      } else {
        folded.set(key, { line: body.length, count: 1, udid: e.udid, first: e.at, last: e.at });
        body.push(''); // filled in below, once the day's count is known
      }
      continue;
    }
    const from = partyOf(e.from);
    const to = partyOf(e.to);
    const text = mermaidText(`${when} ${e.summary}`);
    if (from !== undefined && to !== undefined && from !== to) {
      body.push(`    ${idOf(from, e.udid)}->>${idOf(to, e.udid)}: ${text}`);
    } else {
      const over = to ?? from ?? 'MDM';
      const who = e.from === 'operator' ? 'operator: ' : e.from === 'policy' ? 'policy: ' : '';
      body.push(`    Note over ${idOf(over, e.udid)}: ${who}${text}`);
    }
  }
  for (const f of folded.values()) {
    const span = f.count === 1 ? '' : `, the last at ${clockLabel(f.last, start)}`;
    body[f.line] = `    ${idOf('Agent', f.udid)}->>MDM: ${mermaidText(`${clockLabel(f.first, start)} ${f.count} routine agent check-in${f.count === 1 ? '' : 's'}${span}`)}`;
  }
  if (body.length > maxLines) {
    const omitted = body.length - maxLines;
    body.length = maxLines;
    body.push(`    Note over MDM: ${omitted} more exchanges not drawn (narrow the device or time window)`);
  }
  out.push(...body);
  return `${out.join('\n')}\n`;
}
