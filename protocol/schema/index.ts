/**
 * Schema-driven validation of MDM check-ins, commands, command responses, the com.apple.mdm
 * profile payload and ManifestURL manifests, built from Apple's own YAML
 * (github.com/apple/device-management, vendored in ./apple).
 *
 * How the YAML is read (rules derived from the files; applied in resolve.ts / validate.ts):
 *
 * Applicability. A key is applicable for (platform, version, channel, enrollment, Shared iPad)
 * unless, on that platform:
 *  - its entry says `introduced: n/a`, or the version is below `introduced` or at/after
 *    `removed` (`removed: '0'` means removed on every version, so it never applies);
 *  - `devicechannel: false` and we are on the device channel, or `userchannel: false` on the
 *    user channel (on Shared iPad, the `sharedipad.devicechannel/userchannel` flags also count);
 *  - `userenrollment.mode: forbidden` under user enrollment, or `mode: required` outside it
 *    ("required" marks keys that exist only under user enrollment, e.g. EnrollmentID);
 *  - `sharedipad.mode: forbidden` on Shared iPad, or `mode: required` on other devices.
 *  `ignored` modes leave the key applicable (the device accepts and ignores it).
 * Inheritance. A key inherits its parent's support (the payload's, for top-level keys) field by
 * field: a platform it does not list, or a field its entry omits, is as the parent says. A child
 * only narrows: the later `introduced`, the earlier `removed`, a channel is open only if both
 * say so, forbidden beats required beats allowed. A payload that does not list a platform does
 * not exist there.
 * Presence. `presence: required` makes a key required exactly where it is applicable, which is
 * why EnrollmentID (required, `userenrollment.mode: required`) is absent from real
 * device-enrollment TokenUpdates, and NotOnConsole (required, `devicechannel: false`) is not
 * required on the macOS device channel. Missing `presence` means optional.
 * Unknown context. With no platform, a key is applicable if it is on some platform where the
 * message exists and required only if it is required on all of them; with no (or an
 * unparseable) version, introduced/removed are not checked.
 * Structure. `<array>` items are described by the single subkey. `<dictionary>` subkeys name
 * its keys; a subkey named `ANY…` describes every entry of a free-form dictionary; a dictionary
 * with no subkeys is free-form. A `<string>` with subkeys (DeviceInformation Queries) may only
 * take the subkey names as values, each with its own applicability.
 * Severity. Wrong type, a value outside `rangelist` or not matching `format`, a missing required
 * key: errors. A key present but not applicable: `not-applicable`, an error in strict mode and
 * a warning otherwise. Keys the schema does not know: always warnings (real devices add keys,
 * e.g. Challenge in a macOS Authenticate). A message or command that does not exist in the
 * context: `unsupported` error.
 * Not modelled: `accessrights`, `supervised`, `requiresdep`, `deprecated` (no context for them).
 *
 * Corrections to Apple's YAML are in errata.ts, each with its reason.
 */
import type { PlistDict } from '../plist/types';
import { validateCommandEnvelope, validateResponseEnvelope } from './envelope';
import {
  checkinSchema,
  checkinTypes,
  commandIndexRow,
  commandSchema,
  manifestSchema,
  profileSchema,
} from './registry';
import { normalizeContext, resolveSchema } from './resolve';
import {
  PLATFORMS,
  type CompiledSchema,
  type Platform,
  type ValidationContext,
  type ValidationResult,
} from './types';
import { Issues, plistTypeOf, walkDict } from './validate';

export type {
  Platform,
  ValidationContext,
  ValidationIssue,
  ValidationResult,
  IssueCode,
} from './types';

/** Validates a whole check-in body against the schema its MessageType names. */
export function validateCheckin(message: PlistDict, ctx?: ValidationContext): ValidationResult {
  const n = normalizeContext(ctx);
  const mt = message['MessageType'];
  const out = new Issues(typeof mt === 'string' ? mt : 'Check-in', n);
  if (mt === undefined) {
    out.error('MessageType', 'missing', `key MessageType is required (one of ${checkinTypes().join(', ')})`, '<string>');
    return out.result();
  }
  if (typeof mt !== 'string') {
    out.error('MessageType', 'type', `key MessageType must be <string>, got ${plistTypeOf(mt)}`, '<string>');
    return out.result();
  }
  const schema = checkinSchema(mt);
  if (!schema) {
    out.error('MessageType', 'unknown-message', `unknown MessageType '${mt}' (known: ${checkinTypes().join(', ')})`, `one of ${checkinTypes().join(', ')}`);
    return out.result();
  }
  return validateAgainst(schema, message, out, 'MessageType');
}

export function validateCommand(command: PlistDict, ctx?: ValidationContext): ValidationResult {
  return validateCommandEnvelope(command, ctx);
}

export function validateCommandResponse(
  requestType: string | undefined,
  response: PlistDict,
  ctx?: ValidationContext,
): ValidationResult {
  return validateResponseEnvelope(requestType, response, ctx);
}

export function validateProfilePayload(
  payloadType: 'com.apple.mdm',
  payload: PlistDict,
  ctx?: ValidationContext,
): ValidationResult {
  const n = normalizeContext(ctx);
  const out = new Issues(payloadType, n);
  const schema = profileSchema(payloadType);
  if (!schema) {
    out.error('PayloadType', 'unknown-message', `no schema for payload type '${String(payloadType)}'`);
    return out.result();
  }
  return validateAgainst(schema, payload, out, 'PayloadType');
}

export function validateManifest(manifest: PlistDict, ctx?: ValidationContext): ValidationResult {
  const schema = manifestSchema();
  return validateAgainst(schema, manifest, new Issues(schema.name, normalizeContext(ctx)), '');
}

function validateAgainst(schema: CompiledSchema, value: PlistDict, out: Issues, typeKey: string): ValidationResult {
  const resolved = resolveSchema(schema, 'payload', out.ctx);
  if (!resolved) return out.result();
  if (!resolved.supported) {
    out.error(typeKey, 'unsupported', `${schema.name} is not supported on ${out.whereAny}: ${resolved.unsupportedReason}`);
  }
  walkDict(value, resolved.node, '', out, true);
  return out.result();
}

/** Every MessageType the schema knows. */
export function checkinMessageTypes(): string[] {
  return checkinTypes();
}

export interface CommandInfo {
  requestType: string;
  platforms: Partial<Record<Platform, { introduced?: string; removed?: string }>>;
  payloadKeys: string[];
  hasResponseKeys: boolean;
}

/** What the schema says about a command; undefined for a RequestType Apple does not list. */
export function commandInfo(requestType: string): CommandInfo | undefined {
  const schema = commandSchema(requestType);
  if (!schema) return undefined;
  const platforms: CommandInfo['platforms'] = {};
  for (const p of PLATFORMS) {
    const s = schema.payload.supportedOS?.[p];
    if (!s || s.introduced === 'n/a') continue;
    // The index records only macOS and iOS; say nothing about the rest rather than guess.
    if (!schema.fromYaml && s.introduced === undefined) continue;
    const entry: { introduced?: string; removed?: string } = {};
    if (s.introduced !== undefined) entry.introduced = s.introduced;
    if (s.removed !== undefined) entry.removed = s.removed;
    platforms[p] = entry;
  }
  return {
    requestType: schema.name,
    platforms,
    payloadKeys: (schema.payload.fields ?? []).map((k) => k.key),
    hasResponseKeys: schema.fromYaml ? schema.response !== undefined : commandIndexRow(requestType)?.hasResponseKeys ?? false,
  };
}

/**
 * Compiles the check-in schemas and those of the given commands now instead of on first
 * use, which would stall every device at that moment (the DeviceInformation YAML alone takes
 * over 100 ms to read). A server calls this before it starts listening.
 */
export function preloadSchemas(requestTypes: readonly string[]): void {
  for (const type of checkinTypes()) checkinSchema(type);
  for (const requestType of requestTypes) commandSchema(requestType);
}
