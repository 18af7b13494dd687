/**
 * Where Apple's YAML is known to be incomplete or inconsistent, a small table of corrections,
 * applied to the parsed YAML before it is compiled. Every entry says why. Keep fixes
 * idempotent so they stay harmless once Apple corrects the file upstream.
 */

/** A YAML key as parsed with the failsafe schema (every scalar a string). */
export interface RawKey {
  key?: string;
  type?: string;
  presence?: string;
  rangelist?: unknown[];
  format?: string;
  supportedOS?: Record<string, unknown>;
  subkeys?: RawKey[];
  [other: string]: unknown;
}

export interface RawSchema {
  title?: string;
  payload?: { requesttype?: string; payloadtype?: string; supportedOS?: Record<string, unknown> };
  payloadkeys?: RawKey[];
  responsekeys?: RawKey[];
}

export interface Erratum {
  file: string;
  section: 'payloadkeys' | 'responsekeys';
  /** Dot-separated key names; `name[]` steps into that array's item. */
  path: string;
  reason: string;
  fix(key: RawKey): void;
}

export const ERRATA: readonly Erratum[] = [
  {
    file: 'other_manifesturl.yaml',
    section: 'payloadkeys',
    path: 'items[].assets[].kind',
    reason:
      "Apple's YAML lists only the iOS asset kinds. macOS InstallApplication and " +
      'InstallEnterpriseApplication manifests describe their .pkg as kind "software-package" ' +
      '(the kind mdmsim serves for the agent).',
    fix(key) {
      const list = (key.rangelist ??= []);
      if (!list.includes('software-package')) list.push('software-package');
    },
  },
  {
    file: 'mdm_checkin_authenticate.yaml',
    section: 'payloadkeys',
    path: 'EnrollmentID',
    reason:
      "Marked optional, yet Apple's own description says it is required for user enrollment, " +
      'where UDID is forbidden and EnrollmentID is the only identity the device sends. ' +
      '(`userenrollment.mode: required` already limits it to user enrollment.)',
    fix(key) {
      key.presence = 'required';
    },
  },
  {
    file: 'mdm_checkin_checkout.yaml',
    section: 'payloadkeys',
    path: 'UDID',
    reason:
      'Forbidden under user enrollment for iOS and visionOS but the macOS entry is missing, ' +
      'unlike Authenticate, TokenUpdate, DeclarativeManagement and GetToken: a user-enrolled ' +
      'Mac never reveals its UDID, so CheckOut cannot require it.',
    fix(key) {
      const os = (key.supportedOS ??= {});
      const mac = (os['macOS'] ??= {}) as Record<string, unknown>;
      mac['userenrollment'] = { mode: 'forbidden' };
    },
  },
];

/** Finds the key an erratum targets, or undefined if the YAML no longer has it. */
export function locate(schema: RawSchema, erratum: Erratum): RawKey | undefined {
  let list: RawKey[] | undefined = schema[erratum.section];
  let found: RawKey | undefined;
  for (const segment of erratum.path.split('.')) {
    const isArray = segment.endsWith('[]');
    const name = isArray ? segment.slice(0, -2) : segment;
    found = list?.find((k) => k.key === name);
    if (!found) return undefined;
    if (isArray) {
      found = found.subkeys?.[0];
      if (!found) return undefined;
    }
    list = found.subkeys;
  }
  return found;
}

/** Applies this file's errata in place; returns the ones whose target was not found. */
export function applyErrata(file: string, schema: RawSchema): Erratum[] {
  const missed: Erratum[] = [];
  for (const e of ERRATA) {
    if (e.file !== file) continue;
    const key = locate(schema, e);
    if (key) e.fix(key);
    else missed.push(e);
  }
  return missed;
}
