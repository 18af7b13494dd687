/**
 * Turns a parsed YAML schema into a platform-independent rule tree (KeyRule). This runs once
 * per file; everything context-dependent happens in resolve.ts.
 */
import { applyErrata, type RawKey, type RawSchema } from './errata';
import type { IndexRow } from './load';
import {
  PLATFORMS,
  type CompiledSchema,
  type KeyRule,
  type Mode,
  type Platform,
  type SchemaKind,
  type Support,
  type SupportedOS,
  type ValueType,
} from './types';
import { hasPatch, majorMinor, parseVersion } from './version';

const TYPES: Record<string, ValueType> = {
  '<string>': 'string',
  '<integer>': 'integer',
  '<real>': 'real',
  '<boolean>': 'boolean',
  '<date>': 'date',
  '<data>': 'data',
  '<array>': 'array',
  '<dictionary>': 'dictionary',
  '<any>': 'any',
};

const MODES = new Set<Mode>(['allowed', 'forbidden', 'required', 'ignored']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v.trim() : undefined;
}

function bool(v: unknown): boolean | undefined {
  const s = str(v);
  return s === 'true' ? true : s === 'false' ? false : undefined;
}

function mode(v: unknown): Mode | undefined {
  const s = isObject(v) ? str(v['mode']) : undefined;
  return s !== undefined && MODES.has(s as Mode) ? (s as Mode) : undefined;
}

function compileSupport(raw: unknown): Support {
  // `iOS:` with nothing under it means "as the parent says".
  if (!isObject(raw)) return {};
  const s: Support = {};
  const introduced = str(raw['introduced']);
  if (introduced) s.introduced = introduced;
  const removed = str(raw['removed']);
  if (removed) s.removed = removed;
  const dc = bool(raw['devicechannel']);
  if (dc !== undefined) s.devicechannel = dc;
  const uc = bool(raw['userchannel']);
  if (uc !== undefined) s.userchannel = uc;
  const ue = mode(raw['userenrollment']);
  if (ue) s.userenrollment = ue;
  const sp = raw['sharedipad'];
  if (isObject(sp)) {
    const entry: NonNullable<Support['sharedipad']> = {};
    const m = mode(sp);
    if (m) entry.mode = m;
    const spdc = bool(sp['devicechannel']);
    if (spdc !== undefined) entry.devicechannel = spdc;
    const spuc = bool(sp['userchannel']);
    if (spuc !== undefined) entry.userchannel = spuc;
    s.sharedipad = entry;
  }
  return s;
}

export function compileSupportedOS(raw: unknown): SupportedOS | undefined {
  if (!isObject(raw)) return undefined;
  const out: SupportedOS = {};
  for (const p of PLATFORMS) if (p in raw) out[p] = compileSupport(raw[p]);
  return out;
}

function convertRange(type: ValueType, v: unknown): string | number | boolean {
  const s = typeof v === 'string' ? v : String(v);
  if (type === 'integer' || type === 'real') {
    const n = Number(s);
    return Number.isFinite(n) ? n : s;
  }
  if (type === 'boolean') return s === 'true';
  return s;
}

/** `ANY` (or `ANY app identifier`) names a free-form dictionary's entries, not a literal key. */
function isAnyKey(name: string): boolean {
  return name === 'ANY' || name.startsWith('ANY ');
}

export function compileKey(raw: RawKey, where: string): KeyRule {
  const name = str(raw.key) ?? '';
  const type = TYPES[str(raw.type) ?? ''] ?? 'any';
  const rule: KeyRule = {
    key: name,
    type,
    presence: str(raw.presence) === 'required' ? 'required' : 'optional',
  };
  if (Array.isArray(raw.rangelist) && raw.rangelist.length > 0) {
    rule.rangelist = raw.rangelist.map((v) => convertRange(type, v));
  }
  const format = str(raw.format);
  if (format) {
    try {
      rule.format = new RegExp(format);
    } catch {
      throw new Error(`mdmsim schema: bad format regex for ${where}.${name}: ${format}`);
    }
  }
  const os = compileSupportedOS(raw.supportedOS);
  if (os) rule.supportedOS = os;

  const subs = Array.isArray(raw.subkeys) ? raw.subkeys.filter(isObject) : [];
  if (subs.length > 0) {
    const path = `${where}.${name}`;
    if (type === 'dictionary') {
      const fields: KeyRule[] = [];
      for (const sub of subs) {
        const k = compileKey(sub, path);
        if (isAnyKey(k.key)) rule.anyEntry ??= k;
        else fields.push(k);
      }
      if (fields.length > 0) rule.fields = fields;
    } else if (type === 'array') {
      rule.item = compileKey(subs[0] as RawKey, path);
    } else if (type === 'string') {
      rule.values = subs.map((s) => compileKey(s, path));
    }
  }
  return rule;
}

function kindOf(file: string): SchemaKind {
  if (file.startsWith('mdm_checkin_')) return 'checkin';
  if (file.startsWith('mdm_commands_')) return 'command';
  if (file.startsWith('mdm_profiles_')) return 'profile';
  if (file.startsWith('other_manifesturl')) return 'manifest';
  return 'other';
}

function collectPatchBuckets(rule: KeyRule, out: CompiledSchema['patchSensitive']): void {
  if (rule.supportedOS) {
    for (const p of PLATFORMS) {
      const s = rule.supportedOS[p];
      if (!s) continue;
      for (const bound of [s.introduced, s.removed]) {
        const v = parseVersion(bound);
        if (v && hasPatch(v)) (out[p] ??= new Set()).add(majorMinor(v));
      }
    }
  }
  for (const f of rule.fields ?? []) collectPatchBuckets(f, out);
  for (const f of rule.values ?? []) collectPatchBuckets(f, out);
  if (rule.anyEntry) collectPatchBuckets(rule.anyEntry, out);
  if (rule.item) collectPatchBuckets(rule.item, out);
}

/** Builds the root <dictionary> rule; the payload's supportedOS sits on the root. */
function root(name: string, supportedOS: SupportedOS | undefined, keys: KeyRule[]): KeyRule {
  const r: KeyRule = { key: name, type: 'dictionary', presence: 'required', fields: keys };
  if (supportedOS) r.supportedOS = supportedOS;
  return r;
}

export function compileSchema(file: string, parsed: unknown): CompiledSchema {
  if (!isObject(parsed)) throw new Error(`mdmsim schema: ${file} is not a YAML mapping`);
  const raw = parsed as RawSchema;
  applyErrata(file, raw);
  const payload = isObject(raw.payload) ? raw.payload : {};
  const name = str(payload.requesttype) ?? str(payload.payloadtype) ?? str(raw.title) ?? file;
  // A payload without supportedOS at all says nothing about platforms: treat it as everywhere.
  const supportedOS = compileSupportedOS(payload.supportedOS) ?? {
    macOS: {},
    iOS: {},
    tvOS: {},
    visionOS: {},
    watchOS: {},
  };
  const keys = (list: RawKey[] | undefined): KeyRule[] =>
    (Array.isArray(list) ? list : []).filter(isObject).map((k) => compileKey(k, name));

  const schema: CompiledSchema = {
    file,
    kind: kindOf(file),
    name,
    payload: root(name, supportedOS, keys(raw.payloadkeys)),
    patchSensitive: {},
    fromYaml: true,
  };
  if (Array.isArray(raw.responsekeys) && raw.responsekeys.length > 0) {
    // Responses come from the same devices the command went to: same platform support.
    schema.response = root(name, supportedOS, keys(raw.responsekeys));
  }
  collectPatchBuckets(schema.payload, schema.patchSensitive);
  if (schema.response) collectPatchBuckets(schema.response, schema.patchSensitive);
  return schema;
}

/**
 * A command with no YAML here, known only from commands-index.tsv: key names without types,
 * macOS and iOS introduction only. Other platforms are left unconstrained because the index
 * does not record them.
 */
export function compileFromIndex(row: IndexRow): CompiledSchema {
  const tf = (s: string): boolean | undefined =>
    s === 'True' ? true : s === 'False' ? false : undefined;
  const mac: Support = { introduced: row.macOSIntroduced || 'n/a' };
  const dc = tf(row.macOSDeviceChannel);
  if (dc !== undefined) mac.devicechannel = dc;
  const uc = tf(row.macOSUserChannel);
  if (uc !== undefined) mac.userchannel = uc;
  const supportedOS: Partial<Record<Platform, Support>> = {
    macOS: mac,
    iOS: { introduced: row.iOSIntroduced || 'n/a' },
    tvOS: {},
    visionOS: {},
    watchOS: {},
  };
  const keys: KeyRule[] = row.payloadKeys.map((k) => ({ key: k, type: 'any', presence: 'optional' }));
  const schema: CompiledSchema = {
    file: 'commands-index.tsv',
    kind: 'command',
    name: row.requestType,
    payload: root(row.requestType, supportedOS, keys),
    patchSensitive: {},
    fromYaml: false,
  };
  collectPatchBuckets(schema.payload, schema.patchSensitive);
  return schema;
}

/**
 * Every profile payload also carries the common payload keys (PayloadType, PayloadUUID, …),
 * which Apple keeps in a separate file. The payload's own keys win on a name clash, and
 * PayloadType may only be the type being validated.
 */
export function mergeCommonPayloadKeys(payload: CompiledSchema, common: CompiledSchema): CompiledSchema {
  const own = payload.payload.fields ?? [];
  const ownNames = new Set(own.map((k) => k.key));
  const shared = (common.payload.fields ?? [])
    .filter((k) => !ownNames.has(k.key))
    .map((k) => (k.key === 'PayloadType' ? { ...k, rangelist: [payload.name] } : k));
  const merged: CompiledSchema = {
    ...payload,
    payload: { ...payload.payload, fields: [...shared, ...own] },
    patchSensitive: { ...payload.patchSensitive },
  };
  for (const p of PLATFORMS) {
    const extra = common.patchSensitive[p];
    if (extra) merged.patchSensitive[p] = new Set([...(merged.patchSensitive[p] ?? []), ...extra]);
  }
  return merged;
}
