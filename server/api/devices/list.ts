/**
 * GET /api/v1/devices: Kandji's bare array, its filters, `ordering`, limit/offset paging and
 * the one list element that GET /devices/{device_id} answers too. Facts:
 * ../shared/reference/kandji-api.md ("GET /api/v1/devices").
 */
import { KANDJI_MAX_LIMIT, kandjiIsoZ, kandjiSpaced, type KandjiPlatform } from '../../../protocol/kandji';
import type { ApiDevice } from '../device-view';
import { drfPositiveInt } from '../drf-int';
import { deviceIdFor } from '../device-view';

/** mdmsim has no blueprints: every device is on this one (Kandji always names one). */
export const MDMSIM_BLUEPRINT = Object.freeze({ id: deviceIdFor('mdmsim blueprint'), name: 'mdmsim' });

/** One element of GET /devices, exactly Kandji's fields. */
export interface KandjiDeviceJson {
  device_id: string;
  device_name: string;
  model: string;
  serial_number: string;
  platform: KandjiPlatform;
  os_version: string;
  supplemental_build_version: string;
  /** ISO with Z: the agent's check-in on a Mac that has run it, else the MDM one. */
  last_check_in: string;
  user: '' | { email: string; name: string; id: string; is_archived: boolean };
  asset_tag: string;
  blueprint_id: string;
  blueprint_name: string;
  mdm_enabled: boolean;
  agent_installed: boolean;
  is_missing: boolean;
  is_removed: boolean;
  agent_version: string;
  first_enrollment: string;
  last_enrollment: string;
  lost_mode_status: string;
  tags: string[];
}

export function deviceJson(d: ApiDevice): KandjiDeviceJson {
  return {
    device_id: d.deviceId,
    device_name: d.name,
    model: d.model,
    serial_number: d.serialNumber,
    platform: d.platform,
    os_version: d.osVersion,
    supplemental_build_version: '',
    last_check_in: kandjiIsoZ(d.lastAgentCheckinAt ?? d.lastMdmCheckinAt),
    user: '',
    asset_tag: '',
    blueprint_id: MDMSIM_BLUEPRINT.id,
    blueprint_name: MDMSIM_BLUEPRINT.name,
    mdm_enabled: d.mdmEnabled,
    // The list has no null: a platform without an agent has none installed.
    agent_installed: d.agentInstalled === true,
    is_missing: d.isMissing,
    is_removed: d.isRemoved,
    agent_version: d.agentVersion ?? '',
    first_enrollment: kandjiSpaced(d.firstEnrollmentAt ?? d.lastMdmCheckinAt),
    last_enrollment: kandjiSpaced(d.lastEnrollmentAt ?? d.lastMdmCheckinAt),
    lost_mode_status: '',
    tags: [],
  };
}

// ---- query ----------------------------------------------------------------------------------

type Query = Record<string, unknown>;

function text(q: Query, key: string): string | undefined {
  const v = q[key];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s !== '' ? s : undefined;
}

/**
 * limit/offset as Django REST's LimitOffsetPagination reads them (../drf-int.ts): a limit above
 * the ceiling is clamped to it, a missing, zero or unreadable one is the default (the ceiling);
 * a bad offset is 0.
 */
export function paging(q: Query, max = KANDJI_MAX_LIMIT, fallback = KANDJI_MAX_LIMIT): { limit: number; offset: number } {
  const l = drfPositiveInt(text(q, 'limit'), true);
  return { limit: l === undefined ? fallback : Math.min(l, max), offset: drfPositiveInt(text(q, 'offset')) ?? 0 };
}

type Filter = (d: ApiDevice) => boolean;

const contains = (value: string, needle: string): boolean => value.toLowerCase().includes(needle.toLowerCase());
const same = (value: string, wanted: string): boolean => value.toLowerCase() === wanted.toLowerCase();

/**
 * The fact sheet's filters: `serial_number` and `user_email` match what contains them, the
 * others the whole value (case-insensitive). mdmsim devices have no user, so any `user_email`
 * matches none. Unknown parameters (Kandji's own tools add `source=`) are ignored.
 */
export function filtersOf(q: Query): Filter[] {
  const out: Filter[] = [];
  const serial = text(q, 'serial_number');
  if (serial !== undefined) out.push((d) => contains(d.serialNumber, serial));
  const platform = text(q, 'platform');
  if (platform !== undefined) out.push((d) => same(d.platform, platform));
  const name = text(q, 'device_name');
  if (name !== undefined) out.push((d) => same(d.name, name));
  const model = text(q, 'model');
  if (model !== undefined) out.push((d) => same(d.model, model));
  const os = text(q, 'os_version');
  if (os !== undefined) out.push((d) => d.osVersion === os);
  if (text(q, 'user_email') !== undefined) out.push(() => false);
  const blueprint = text(q, 'blueprint_id');
  if (blueprint !== undefined) out.push(() => same(MDMSIM_BLUEPRINT.id, blueprint));
  return out;
}

type Key = (d: ApiDevice) => string | number;

/** Fields `ordering` accepts (the list's own names). Terms naming anything else are ignored, as DRF's OrderingFilter does. */
const ORDERING_KEYS: Partial<Record<string, Key>> = {
  last_check_in: (d) => d.lastAgentCheckinAt ?? d.lastMdmCheckinAt,
  device_name: (d) => d.name.toLowerCase(),
  serial_number: (d) => d.serialNumber,
  device_id: (d) => d.deviceId,
  model: (d) => d.model,
  os_version: (d) => d.osVersion.split('.').map((n) => n.padStart(4, '0')).join('.'),
  platform: (d) => d.platform,
  first_enrollment: (d) => d.firstEnrollmentAt ?? 0,
  last_enrollment: (d) => d.lastEnrollmentAt ?? 0,
};

/** A comparator for `ordering` (`-field` descending, comma-separated terms), or undefined for storage order. */
export function orderingOf(q: Query): ((a: ApiDevice, b: ApiDevice) => number) | undefined {
  const raw = text(q, 'ordering');
  if (raw === undefined) return undefined;
  const terms: Array<{ key: Key; sign: number }> = [];
  for (const term of raw.split(',')) {
    const t = term.trim();
    const desc = t.startsWith('-');
    const key = ORDERING_KEYS[desc ? t.slice(1) : t];
    if (key) terms.push({ key, sign: desc ? -1 : 1 });
  }
  if (terms.length === 0) return undefined;
  return (a, b) => {
    for (const { key, sign } of terms) {
      const x = key(a);
      const y = key(b);
      if (x < y) return -sign;
      if (x > y) return sign;
    }
    return 0;
  };
}
