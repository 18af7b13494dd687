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

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
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
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}000+00:00`
  );
}

/** Python's `isoformat()` of an aware UTC time, `2024-01-26T16:15:36.087016+00:00`: Prism's dates. */
export function kandjiIsoOffset(ms: number): string {
  return kandjiSpaced(ms).replace(' ', 'T');
}
