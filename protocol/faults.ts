/**
 * Faults a simulated Mac can be given, as `POST /sim/v1/devices/{udid}/faults` takes them and
 * the programmatic API passes them. They live on the Mac (its network, its disk, its agent):
 * the server only forwards them to whoever runs that Mac.
 *
 * Body: one fault or `{"faults": [...]}`. Each fault is `{"kind": ...}` plus its settings:
 * - `agent-uninstalled`: the agent is removed (gone from InstalledApplicationList, silent).
 * - `agent-crashed`: the agent stays installed but stops checking in.
 * - `agent-network-blocked`: the agent's requests fail as a blocked connection does; MDM is unaffected.
 * - `offline` `{"for": "3d"}`: no MDM, no agent; pushes wait at the courier; back after the duration
 *   (omit `for` to stay offline until cleared).
 * - `notnow` `{"connects": 3}`: answer NotNow to every command in the next N connects.
 * - `package-download` `{"mode": "fail" | "corrupt"}`: downloads of app packages fail, or
 *   arrive with a flipped byte (so the hash check catches them); `"count": N` limits it to N downloads.
 * Clearing: `DELETE /sim/v1/devices/{udid}/faults` (all) or `?kind=...`.
 */
import { parseDuration, DurationError } from './duration';
import { problem } from './problem';

export type DeviceFault =
  | { kind: 'agent-uninstalled' }
  | { kind: 'agent-crashed' }
  | { kind: 'agent-network-blocked' }
  | { kind: 'offline'; forMs?: number }
  | { kind: 'notnow'; connects: number }
  | { kind: 'package-download'; mode: 'fail' | 'corrupt'; count?: number };

export type DeviceFaultKind = DeviceFault['kind'];

export const DEVICE_FAULT_KINDS: readonly DeviceFaultKind[] = [
  'agent-uninstalled',
  'agent-crashed',
  'agent-network-blocked',
  'offline',
  'notnow',
  'package-download',
];

/** What a Mac reports about its faults after applying a request (JSON). */
export interface DeviceFaultState {
  udid: string;
  /** Faults still in force, in the request's form (`offline.until` as ISO when time-limited). */
  active: Array<Record<string, unknown>>;
  agent: 'running' | 'not-installed' | 'crashed' | 'blocked';
  online: boolean;
}

function bad(field: string, message: string, expected?: string): never {
  throw problem(400, 'bad-fault', message, { field, ...(expected ? { expected } : {}) });
}

function positiveInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1_000_000) bad(field, `${field} must be a whole number from 1 to 1000000`);
  return v;
}

export function parseDeviceFault(value: unknown, field = 'fault'): DeviceFault {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(field, `${field} must be an object with a kind`, `{"kind": "${DEVICE_FAULT_KINDS.join('" | "')}"}`);
  const v = value as Record<string, unknown>;
  const kind = v.kind;
  if (typeof kind !== 'string' || !(DEVICE_FAULT_KINDS as readonly string[]).includes(kind)) {
    bad(`${field}.kind`, `unknown fault kind ${JSON.stringify(kind)}`, DEVICE_FAULT_KINDS.join(', '));
  }
  const allowed: Record<DeviceFaultKind, string[]> = {
    'agent-uninstalled': [],
    'agent-crashed': [],
    'agent-network-blocked': [],
    offline: ['for'],
    notnow: ['connects'],
    'package-download': ['mode', 'count'],
  };
  for (const key of Object.keys(v)) {
    if (key !== 'kind' && !allowed[kind as DeviceFaultKind].includes(key)) {
      bad(`${field}.${key}`, `a ${kind} fault has no setting ${key}`, allowed[kind as DeviceFaultKind].length ? allowed[kind as DeviceFaultKind].join(', ') : 'no settings');
    }
  }
  switch (kind as DeviceFaultKind) {
    case 'offline': {
      if (v.for === undefined) return { kind: 'offline' };
      try {
        const ms = parseDuration(v.for as string);
        if (ms <= 0) bad(`${field}.for`, 'offline.for must be longer than zero');
        return { kind: 'offline', forMs: ms };
      } catch (error) {
        if (error instanceof DurationError) bad(`${field}.for`, error.message);
        throw error;
      }
    }
    case 'notnow':
      return { kind: 'notnow', connects: positiveInt(v.connects, `${field}.connects`) };
    case 'package-download': {
      if (v.mode !== 'fail' && v.mode !== 'corrupt') bad(`${field}.mode`, 'package-download.mode must be "fail" or "corrupt"');
      const f: DeviceFault = { kind: 'package-download', mode: v.mode };
      if (v.count !== undefined) f.count = positiveInt(v.count, `${field}.count`);
      return f;
    }
    default:
      return { kind } as DeviceFault;
  }
}

/** One fault, or `{"faults": [...]}`. */
export function parseDeviceFaults(body: unknown): DeviceFault[] {
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'faults' in body) {
    const list = (body as { faults: unknown }).faults;
    if (!Array.isArray(list) || list.length === 0) bad('faults', 'faults must be a non-empty array');
    return list.map((f, i) => parseDeviceFault(f, `faults[${i}]`));
  }
  return [parseDeviceFault(body)];
}

export function isDeviceFaultKind(v: unknown): v is DeviceFaultKind {
  return typeof v === 'string' && (DEVICE_FAULT_KINDS as readonly string[]).includes(v);
}
