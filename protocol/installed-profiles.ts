/**
 * A Mac's installed configuration profiles as the server knows them (GET
 * /sim/v1/devices/{udid}/profiles), and the text `system_profiler SPConfigurationProfileDataType`
 * prints for them on a Mac (`mdmsim device <udid> profiles`). No I/O.
 *
 * The text keeps system_profiler's shape (its JSON form's keys are spconfigprofile_description,
 * _install_date, _organization, _verification_state, _profile_identifier, _profile_uuid,
 * _RemovalDisallowed, _version, and per payload _payload_identifier, _payload_uuid,
 * _payload_version, _payload_display_name, _payload_data): a "Device Configuration Profiles"
 * section, each profile with its attributes, each payload under its type with its settings as
 * an old-style (NeXTSTEP) property list, `Key = value;` one a line. So the vendor guide's
 *
 *   awk -v FS='(https://|/mdm)' '/CheckInURL/ {print $2}'
 *
 * prints the device domain (and port) a Mac's CheckInURL names, as it does on a real Mac.
 */
import { createHash } from 'node:crypto';
import { isPlistDict, type PlistDict, type PlistValue } from './plist/types';

/** A payload value as JSON: data and dates tagged, so they print as a Mac prints them. */
export type ProfileValue =
  | string
  | number
  | boolean
  | ProfileValue[]
  | { [key: string]: ProfileValue }
  | { $data: { length: number; sha256: string } }
  | { $date: string };

export interface InstalledPayloadJson {
  type: string;
  identifier: string;
  uuid: string;
  version: number;
  displayName?: string;
  description?: string;
  /** The payload's own settings (every key but the common Payload* ones); secrets (Password) left out. */
  data: Record<string, ProfileValue>;
}

export interface InstalledProfileJson {
  identifier: string;
  uuid: string;
  version: number;
  displayName?: string;
  description?: string;
  organization?: string;
  /** When the Mac installed it: its Authenticate for the enrollment profile, the acknowledgement for InstallProfile. */
  installedAt: string;
  /** How it got there: the enrollment profile the server served, or an acknowledged InstallProfile. */
  installedBy: 'enrollment' | 'InstallProfile';
  commandUUID?: string;
  /** A signed profile is `Verified` (the Mac checked its signature); a plain plist is `Unsigned`. */
  verificationState: 'Verified' | 'Unsigned';
  removalDisallowed: boolean;
  payloads: InstalledPayloadJson[];
}

/** The com.apple.mdm payload's settings that say where the Mac talks to, and as whom. */
export interface MdmEnrollmentJson {
  serverURL: string;
  checkInURL?: string;
  topic: string;
  identityCertificateUUID: string;
  /** The identity certificate the Mac signs with (the one the server bound at Authenticate). */
  identity?: { sha256: string; commonName?: string };
}

export interface DeviceProfilesJson {
  udid: string;
  profiles: InstalledProfileJson[];
  /** From the MDM profile, when the Mac has one. */
  mdm: MdmEnrollmentJson | null;
  /** What the server cannot know, said plainly (e.g. a server without signatures cannot tell which profile a Mac installed). */
  notes: string[];
}

/** Keys every payload has; the rest (PayloadContent included: a certificate's bytes, say) is the payload's own. */
const COMMON_KEYS = new Set(['PayloadType', 'PayloadIdentifier', 'PayloadUUID', 'PayloadVersion', 'PayloadDisplayName', 'PayloadDescription', 'PayloadOrganization']);
/** Never shown: a PKCS#12's password is a secret even in a lab. */
const SECRET_KEYS = new Set(['Password']);

/** A plist value as JSON: data as its length and SHA-256, dates as ISO. */
export function profileValue(value: PlistValue): ProfileValue {
  if (Buffer.isBuffer(value)) return { $data: { length: value.length, sha256: createHash('sha256').update(value).digest('hex') } };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(profileValue);
  if (isPlistDict(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, profileValue(v)]));
  if (typeof value === 'bigint') return Number(value);
  return value as string | number | boolean;
}

/** One payload of a profile as JSON. Nested profile content (PayloadContent that is not a payload list) counts as data. */
export function payloadJson(payload: PlistDict): InstalledPayloadJson {
  const data: Record<string, ProfileValue> = {};
  for (const [k, v] of Object.entries(payload)) {
    if (SECRET_KEYS.has(k)) continue;
    if (COMMON_KEYS.has(k)) continue;
    data[k] = profileValue(v);
  }
  const out: InstalledPayloadJson = {
    type: String(payload.PayloadType ?? ''),
    identifier: String(payload.PayloadIdentifier ?? ''),
    uuid: String(payload.PayloadUUID ?? ''),
    version: typeof payload.PayloadVersion === 'number' ? payload.PayloadVersion : 1,
    data,
  };
  if (typeof payload.PayloadDisplayName === 'string') out.displayName = payload.PayloadDisplayName;
  if (typeof payload.PayloadDescription === 'string') out.description = payload.PayloadDescription;
  return out;
}

/** A configuration profile (the plist a Mac installed) as JSON, with how and when it came. */
export function profileJson(profile: PlistDict, how: Pick<InstalledProfileJson, 'installedAt' | 'installedBy' | 'commandUUID' | 'verificationState'>): InstalledProfileJson {
  const content = Array.isArray(profile.PayloadContent) ? profile.PayloadContent.filter(isPlistDict) : [];
  const out: InstalledProfileJson = {
    identifier: String(profile.PayloadIdentifier ?? ''),
    uuid: String(profile.PayloadUUID ?? ''),
    version: typeof profile.PayloadVersion === 'number' ? profile.PayloadVersion : 1,
    installedAt: how.installedAt,
    installedBy: how.installedBy,
    verificationState: how.verificationState,
    removalDisallowed: profile.PayloadRemovalDisallowed === true,
    payloads: content.map(payloadJson),
  };
  if (how.commandUUID !== undefined) out.commandUUID = how.commandUUID;
  if (typeof profile.PayloadDisplayName === 'string') out.displayName = profile.PayloadDisplayName;
  if (typeof profile.PayloadDescription === 'string') out.description = profile.PayloadDescription;
  if (typeof profile.PayloadOrganization === 'string') out.organization = profile.PayloadOrganization;
  return out;
}

// ---- the text system_profiler prints ---------------------------------------------------------

/**
 * A string bare when made only of letters, digits, `_`, `.` and `$`, quoted otherwise: a URL
 * (with its `/` and `:`) is quoted. The guide's awk step finds the host either way, since it
 * splits on `https://` and `/mdm`.
 */
function asciiString(s: string): string {
  return /^[A-Za-z0-9_.$]+$/.test(s) ? s : `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function isTagged<K extends string>(v: ProfileValue, key: K): v is Record<K, never> & ProfileValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && key in v;
}

/** A value the way an old-style plist description writes it (booleans as 1 and 0, as macOS prints them). */
function asciiValue(v: ProfileValue, indent: string): string {
  if (typeof v === 'string') return asciiString(v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (Array.isArray(v)) {
    if (v.length === 0) return '(\n' + indent + ')';
    return `(\n${v.map((x) => `${indent}    ${asciiValue(x, `${indent}    `)}`).join(',\n')}\n${indent})`;
  }
  if (isTagged(v, '$data')) {
    const d = (v as { $data: { length: number; sha256: string } }).$data;
    return `{length = ${d.length}, sha256 = ${d.sha256}}`;
  }
  if (isTagged(v, '$date')) return `"${(v as { $date: string }).$date.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' +0000')}"`;
  const entries = Object.entries(v as Record<string, ProfileValue>);
  if (entries.length === 0) return '{\n' + indent + '}';
  return `{\n${entries.map(([k, x]) => `${indent}    ${asciiString(k)} = ${asciiValue(x, `${indent}    `)};`).join('\n')}\n${indent}}`;
}

/** `2026-01-05 09:00:00 +0000`, as system_profiler writes dates. */
function profilerDate(iso: string): string {
  return iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' +0000');
}

/**
 * The profiles as `system_profiler SPConfigurationProfileDataType` prints them on a Mac: the
 * device section, each profile named by its display name, then each payload by its type.
 */
export function formatSystemProfiler(device: DeviceProfilesJson): string {
  const out: string[] = ['Configuration Profiles:', ''];
  if (device.profiles.length === 0) return `${out.join('\n')}\n`;
  out.push('    Device Configuration Profiles:', '');
  const field = (indent: string, label: string, value: string | undefined) => {
    if (value !== undefined && value !== '') out.push(`${indent}${label}: ${value}`);
  };
  for (const p of device.profiles) {
    const ind = ' '.repeat(10);
    out.push(`        ${p.displayName ?? p.identifier}:`, '');
    field(ind, 'Description', p.description);
    field(ind, 'Installation Date', profilerDate(p.installedAt));
    field(ind, 'Organization', p.organization);
    field(ind, 'Verification State', p.verificationState);
    field(ind, 'Identifier', p.identifier);
    field(ind, 'UUID', p.uuid);
    field(ind, 'Removal Disallowed', p.removalDisallowed ? 'Yes' : 'No');
    field(ind, 'Version', String(p.version));
    out.push('');
    for (const payload of p.payloads) {
      const pind = ' '.repeat(14);
      out.push(`${ind}${payload.type}:`, '');
      field(pind, 'Description', payload.description);
      const data = Object.entries(payload.data);
      if (data.length > 0) {
        out.push(`${pind}Payload Data:`);
        const dind = ' '.repeat(18);
        for (const [k, v] of data) out.push(`${dind}${asciiString(k)} = ${asciiValue(v, dind)};`);
      }
      field(pind, 'Payload Display Name', payload.displayName);
      field(pind, 'Payload Identifier', payload.identifier);
      field(pind, 'Payload UUID', payload.uuid);
      field(pind, 'Payload Version', String(payload.version));
      out.push('');
    }
  }
  return `${out.join('\n')}\n`;
}
