/**
 * The fleet policies' settings: the agent install on enrollment, the reinstall rule's windows
 * and cadence, and the periodic MDM inventory. Given as ServerOptions.agentPolicy, read and
 * changed at runtime through GET/PATCH /sim/v1/agent-policy. Durations are accepted as
 * milliseconds or as strings ("7d", "36h", "P7D") and answered as strings.
 */
import { DurationError, formatDuration, parseDuration } from '../../protocol/duration';
import { problem } from '../../protocol/problem';

export interface AgentPolicySettings {
  /** Queue the agent's InstallEnterpriseApplication after a macOS enrollment's first TokenUpdate. */
  installOnEnrollment: boolean;
  /** The reinstall rule: on, or off (overdue devices are then skipped with reason `disabled`). */
  reinstall: boolean;
  /** A device counts as alive if its last MDM check-in is at most this old (ms). */
  mdmWindow: number;
  /** The agent is overdue once its last check-in (or the enrollment) is older than this (ms). */
  agentWindow: number;
  /** Least time between two agent installs for one device, from the later of the last one being queued and answered (ms). */
  retryInterval: number;
  /** How often the reinstall sweep runs (ms). */
  sweepInterval: number;
  /** How often each enrollment gets a DeviceInformation inventory; 0 = never (ms). */
  inventoryInterval: number;
  /** The device API's `is_missing`: true once a device has had no check-in of any kind (MDM or agent) for this long (ms). */
  missingAfter: number;
}

/** What a caller may pass: any subset; durations as ms or strings; `inventoryInterval: false` turns it off. */
export interface AgentPolicyOptions {
  installOnEnrollment?: boolean;
  reinstall?: boolean;
  mdmWindow?: number | string;
  agentWindow?: number | string;
  retryInterval?: number | string;
  sweepInterval?: number | string;
  inventoryInterval?: number | string | false;
  missingAfter?: number | string;
}

/** The JSON form: durations as strings, a disabled inventory as false. */
export interface AgentPolicySettingsJson {
  installOnEnrollment: boolean;
  reinstall: boolean;
  mdmWindow: string;
  agentWindow: string;
  retryInterval: string;
  sweepInterval: string;
  inventoryInterval: string | false;
  missingAfter: string;
}

const DAY = 86_400_000;

export const DEFAULT_AGENT_POLICY: Readonly<AgentPolicySettings> = Object.freeze({
  installOnEnrollment: true,
  reinstall: true,
  mdmWindow: 7 * DAY,
  agentWindow: 7 * DAY,
  retryInterval: DAY,
  sweepInterval: 3_600_000,
  inventoryInterval: DAY,
  // Kandji documents no number; devices were seen turning missing between 26 and 34 days.
  missingAfter: 30 * DAY,
});

/** A sweep more often than this would make a virtual week cost hundreds of thousands of sweeps. */
export const MIN_SWEEP_INTERVAL_MS = 1000;
const DURATIONS = ['mdmWindow', 'agentWindow', 'retryInterval', 'sweepInterval', 'missingAfter'] as const;
const FLAGS = ['installOnEnrollment', 'reinstall'] as const;
const KEYS: readonly string[] = [...FLAGS, ...DURATIONS, 'inventoryInterval'];

/**
 * Applies `patch` to `base` and returns new settings; throws a 400 ProblemError naming the
 * field at fault (unknown keys included), so a bad PATCH changes nothing.
 */
export function resolveAgentPolicy(patch: unknown, base: Readonly<AgentPolicySettings> = DEFAULT_AGENT_POLICY, prefix = ''): AgentPolicySettings {
  const out: AgentPolicySettings = { ...base };
  if (patch === undefined) return out;
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw problem(400, 'bad-settings', `${prefix || 'the agent policy settings'} must be an object`, { field: prefix || undefined, expected: example() });
  }
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    const field = `${prefix}${key}`;
    if (!KEYS.includes(key)) {
      throw problem(400, 'unknown-setting', `there is no setting ${field}`, { field, expected: `one of ${KEYS.join(', ')}` });
    }
    if (value === undefined) continue;
    if ((FLAGS as readonly string[]).includes(key)) {
      if (typeof value !== 'boolean') throw problem(400, 'bad-setting', `${field} must be true or false; got ${JSON.stringify(value)}`, { field, expected: 'true or false' });
      out[key as (typeof FLAGS)[number]] = value;
      continue;
    }
    if (key === 'inventoryInterval' && (value === false || value === 0 || value === '0')) {
      out.inventoryInterval = 0;
      continue;
    }
    const ms = duration(value, field);
    if (key === 'sweepInterval' && ms < MIN_SWEEP_INTERVAL_MS) {
      throw problem(400, 'bad-setting', `${field} must be at least ${formatDuration(MIN_SWEEP_INTERVAL_MS)}; got ${formatDuration(ms)}`, { field, expected: 'e.g. "1h" or "15m"' });
    }
    if (key === 'inventoryInterval' && ms < MIN_SWEEP_INTERVAL_MS) {
      throw problem(400, 'bad-setting', `${field} must be at least ${formatDuration(MIN_SWEEP_INTERVAL_MS)}, or false to turn the inventory off; got ${formatDuration(ms)}`, { field, expected: 'e.g. "24h", or false' });
    }
    if (key !== 'inventoryInterval' && key !== 'sweepInterval' && ms === 0) {
      throw problem(400, 'bad-setting', `${field} must be longer than zero`, { field, expected: 'e.g. "7d"' });
    }
    out[key as (typeof DURATIONS)[number] | 'inventoryInterval'] = ms;
  }
  return out;
}

function duration(value: unknown, field: string): number {
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw problem(400, 'bad-setting', `${field} must be a duration: milliseconds or a string like "7d"; got ${JSON.stringify(value)}`, { field, expected: '"7d", "36h", "P7D" or a number of milliseconds' });
  }
  try {
    return parseDuration(value);
  } catch (error) {
    if (error instanceof DurationError) throw problem(400, 'bad-setting', `${field}: ${error.message}`, { field, expected: '"7d", "36h", "P7D" or a number of milliseconds' });
    throw error;
  }
}

function example(): string {
  return '{"mdmWindow": "7d", "agentWindow": "7d", "retryInterval": "24h", "sweepInterval": "1h", "inventoryInterval": "24h" or false, "missingAfter": "30d", "installOnEnrollment": true, "reinstall": true}';
}

export function agentPolicyToJson(s: Readonly<AgentPolicySettings>): AgentPolicySettingsJson {
  return {
    installOnEnrollment: s.installOnEnrollment,
    reinstall: s.reinstall,
    mdmWindow: formatDuration(s.mdmWindow),
    agentWindow: formatDuration(s.agentWindow),
    retryInterval: formatDuration(s.retryInterval),
    sweepInterval: formatDuration(s.sweepInterval),
    inventoryInterval: s.inventoryInterval > 0 ? formatDuration(s.inventoryInterval) : false,
    missingAfter: formatDuration(s.missingAfter),
  };
}
