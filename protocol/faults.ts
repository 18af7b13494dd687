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
 *
 * The Mac's network (protocol/network-policy.ts; what the simulator does: agent-sim/network):
 * - `allow-list` `{"allow": ["host:port", ...]}`: an enrollment-only network: only the listed
 *   pairs are reachable (`*.iot.mdmsim.test:443`, `{device}:{port}`); any other connection is
 *   refused, APNs included.
 * - `proxy`: the Mac's HTTPS goes through an HTTP CONNECT proxy, which applies the allow-list.
 * - `tls-inspection` `{"exempt": ["host", ...]}`: a TLS-inspecting proxy decrypts every
 *   connection except to the exempted hosts.
 * Each replaces the Mac's earlier one of its kind; they combine with each other and override the
 * fleet's network of the same kind.
 *
 * Clearing: `DELETE /sim/v1/devices/{udid}/faults` (all) or `?kind=...`.
 */
import { parseDuration, DurationError } from './duration';
import { formatHostPort, parseHostPattern, parseHostPort } from './network-policy';
import { problem } from './problem';

export type DeviceFault =
  | { kind: 'agent-uninstalled' }
  | { kind: 'agent-crashed' }
  | { kind: 'agent-network-blocked' }
  | { kind: 'offline'; forMs?: number }
  | { kind: 'notnow'; connects: number }
  | { kind: 'package-download'; mode: 'fail' | 'corrupt'; count?: number }
  | NetworkFault;

/** The faults that make up a Mac's network (NETWORK_FAULT_KINDS). */
export type NetworkFault =
  /** `allow`: host:port entries as parseHostPort reads them, normalised (formatHostPort). */
  | { kind: 'allow-list'; allow: string[] }
  | { kind: 'proxy' }
  | { kind: 'tls-inspection'; exempt: string[] };

export type DeviceFaultKind = DeviceFault['kind'];

export const DEVICE_FAULT_KINDS: readonly DeviceFaultKind[] = [
  'agent-uninstalled',
  'agent-crashed',
  'agent-network-blocked',
  'offline',
  'notnow',
  'package-download',
  'allow-list',
  'proxy',
  'tls-inspection',
];

export const NETWORK_FAULT_KINDS: readonly NetworkFault['kind'][] = ['allow-list', 'proxy', 'tls-inspection'];

/** Entries an allow-list or exemption list may hold. */
export const MAX_NETWORK_ENTRIES = 1000;

/** What a Mac reports about its faults after applying a request (JSON). */
export interface DeviceFaultState {
  udid: string;
  /** Faults still in force, in the request's form (`offline.until` as ISO when time-limited). */
  active: Array<Record<string, unknown>>;
  agent: 'running' | 'not-installed' | 'crashed' | 'blocked';
  online: boolean;
  /**
   * The network in force for this Mac when it is not an open one: its own network faults over the
   * fleet's network (`from` says which gave each part), placeholders filled in.
   */
  network?: {
    allow?: string[];
    proxy?: boolean;
    tlsInspection?: { exempt: string[] };
    from: { allow?: 'mac' | 'fleet'; proxy?: 'mac' | 'fleet'; tlsInspection?: 'mac' | 'fleet' };
  };
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
    'allow-list': ['allow'],
    proxy: [],
    'tls-inspection': ['exempt'],
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
    case 'allow-list': {
      const list = v.allow;
      if (!Array.isArray(list) || list.length === 0 || list.length > MAX_NETWORK_ENTRIES) {
        bad(`${field}.allow`, `allow-list.allow must be a list of 1 to ${MAX_NETWORK_ENTRIES} host:port pairs (the reachable ones; everything else is blocked)`, '["{device}:{port}", "*.iot.mdmsim.test:443"]');
      }
      return { kind: 'allow-list', allow: list.map((x, i) => formatHostPort(parseHostPort(x, `${field}.allow[${i}]`))) };
    }
    case 'tls-inspection': {
      const list = v.exempt ?? [];
      if (!Array.isArray(list) || list.length > MAX_NETWORK_ENTRIES) bad(`${field}.exempt`, `tls-inspection.exempt must be a list of at most ${MAX_NETWORK_ENTRIES} hosts (relayed without inspection)`, '["{device-web-api}", "{device-devices}"]');
      return { kind: 'tls-inspection', exempt: list.map((x, i) => parseHostPattern(x, `${field}.exempt[${i}]`)) };
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
