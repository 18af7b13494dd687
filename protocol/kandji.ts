/**
 * The Kandji-compatible device API as both sides speak it (the server under /api/v1, the
 * posture-sync simulator as its client): paths, permission names, action names, command
 * status codes and the three timestamp formats. Facts: ../shared/reference/kandji-api.md.
 * No I/O here.
 */

export const KANDJI_API_PREFIX = '/api/v1';
export const PRISM_DEVICE_INFORMATION_PATH = '/api/v1/prism/device_information';

/** Kandji's page size ceiling for /devices and Prism; also the default when `limit` is omitted. */
export const KANDJI_MAX_LIMIT = 300;

/**
 * Per-endpoint permissions a token may carry (Kandji's token dialog grants them one endpoint at
 * a time). `*` grants all of them: the token in `mdmsim serve`'s ready line has it.
 */
export const KANDJI_PERMISSIONS = [
  'devices:list',
  'devices:read',
  'devices:details',
  'devices:commands',
  'devices:activity',
  'devices:apps',
  'devices:library-items',
  'devices:status',
  'devices:parameters',
  'devices:delete',
  'devices:action:blankpush',
  'devices:action:reinstallagent',
  'devices:action:updateinventory',
  'devices:action:lock',
  'devices:action:erase',
  'devices:action:restart',
  'devices:action:shutdown',
  'devices:action:setname',
  'devices:action:renewmdmprofile',
  'prism:device_information',
] as const;
export type KandjiPermission = (typeof KANDJI_PERMISSIONS)[number];
export const ALL_PERMISSIONS = '*';

export const KANDJI_ACTIONS = ['blankpush', 'reinstallagent', 'updateinventory', 'lock', 'erase', 'restart', 'shutdown', 'setname', 'renewmdmprofile'] as const;
export type KandjiAction = (typeof KANDJI_ACTIONS)[number];

/** `/commands` status codes. */
export const KANDJI_COMMAND_STATUS = { pending: 1, running: 2, completed: 3, failed: 4, notNow: 5 } as const;
export type KandjiCommandStatus = (typeof KANDJI_COMMAND_STATUS)[keyof typeof KANDJI_COMMAND_STATUS];

/** Kandji's platform names. */
export type KandjiPlatform = 'Mac' | 'iPad' | 'iPhone' | 'AppleTV';

// ---- the three timestamp formats -----------------------------------------------------------

// The API formats five dates per device per page (50,000 for one pass over 10,000 devices):
// digits come from tables and each day's `YYYY-MM-DD` is made once, about 4x faster than
// Date getters and padStart. Same output (test/unit/api/kandji-dates.test.ts).
const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const DAY_MS = 86_400_000;
const dayTexts = new Map<number, string>();

function dayText(day: number): string {
  let text = dayTexts.get(day);
  if (text === undefined) {
    if (dayTexts.size >= 4096) dayTexts.clear();
    const d = new Date(day * DAY_MS);
    text = `${d.getUTCFullYear()}-${TWO_DIGITS[d.getUTCMonth() + 1]}-${TWO_DIGITS[d.getUTCDate()]}`;
    dayTexts.set(day, text);
  }
  return text;
}

/** `YYYY-MM-DD<sep>HH:MM:SS.ffffff+00:00` (UTC; microseconds from milliseconds). */
function pythonUtc(ms: number, sep: string): string {
  const day = Math.floor(ms / DAY_MS);
  let rest = ms - day * DAY_MS;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  return `${dayText(day)}${sep}${TWO_DIGITS[h]}:${TWO_DIGITS[m]}:${TWO_DIGITS[s]}.${THREE_DIGITS[rest - s * 1000]}000+00:00`;
}

/**
 * ISO 8601 with `Z` and milliseconds, `2024-01-26T16:15:36.087Z`: the list's `last_check_in`
 * and `kandji_agent.last_check_in`.
 */
export function kandjiIsoZ(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Python's `str(datetime)` of an aware UTC time, `2024-01-26 16:15:36.087016+00:00`: the list's
 * `first_enrollment` / `last_enrollment` and `mdm.last_check_in`. Microseconds from our
 * milliseconds (the last three digits are zero).
 */
export function kandjiSpaced(ms: number): string {
  return pythonUtc(ms, ' ');
}

/** Python's `isoformat()` of an aware UTC time, `2024-01-26T16:15:36.087016+00:00`: Prism's dates. */
export function kandjiIsoOffset(ms: number): string {
  return pythonUtc(ms, 'T');
}
