/**
 * Shared types of the schema validator: the public context/result shapes and the compiled
 * rule tree that compile.ts builds from Apple's YAML and resolve.ts specialises per context.
 */

import type { Platform } from '../platform';

export { PLATFORMS, type Platform } from '../platform';

export interface ValidationContext {
  /** Unknown: only what is required on every platform is required; no version checks. */
  platform?: Platform;
  /** e.g. '14.2.1'. Unknown (or unparseable): introduced/removed checks are skipped. */
  osVersion?: string;
  /** Default 'device'. */
  channel?: 'device' | 'user';
  /** User enrollment or not. Default 'device'. */
  enrollment?: 'device' | 'user';
  sharedIPad?: boolean;
  /** Keys that are present but not applicable become errors instead of warnings. Default false. */
  strict?: boolean;
}

export type IssueCode =
  | 'missing'
  | 'type'
  | 'range'
  | 'not-applicable'
  | 'unknown-key'
  | 'unknown-message'
  | 'unsupported';

export interface ValidationIssue {
  path: string;
  code: IssueCode;
  message: string;
  expected?: string;
}

export interface ValidationResult {
  ok: boolean;
  errors: ValidationIssue[];
  warnings: ValidationIssue[];
}

export type ValueType =
  | 'string'
  | 'integer'
  | 'real'
  | 'boolean'
  | 'date'
  | 'data'
  | 'array'
  | 'dictionary'
  | 'any';

/** How a key behaves under user enrollment or on Shared iPad (Apple's `mode`). */
export type Mode = 'allowed' | 'forbidden' | 'required' | 'ignored';

/** One platform's entry of a `supportedOS` block, typed. Absent fields inherit from the parent. */
export interface Support {
  /** 'n/a' = not on this platform. */
  introduced?: string;
  removed?: string;
  devicechannel?: boolean;
  userchannel?: boolean;
  userenrollment?: Mode;
  sharedipad?: { mode?: Mode; devicechannel?: boolean; userchannel?: boolean };
}

export type SupportedOS = Partial<Record<Platform, Support>>;

/** A compiled YAML key: platform-independent, built once per file. */
export interface KeyRule {
  key: string;
  type: ValueType;
  presence: 'required' | 'optional';
  /** Allowed values, already converted to the key's type (numbers for <integer>/<real>). */
  rangelist?: readonly (string | number | boolean)[];
  format?: RegExp;
  supportedOS?: SupportedOS;
  /** <dictionary> with named subkeys. */
  fields?: KeyRule[];
  /** <dictionary> whose subkey is `ANY…`: every entry is described by this rule. */
  anyEntry?: KeyRule;
  /** <array>: its single subkey describes every item. */
  item?: KeyRule;
  /** <string> with subkeys: the subkey names enumerate the permitted values (e.g. DeviceInformation Queries). */
  values?: KeyRule[];
}

export type SchemaKind = 'checkin' | 'command' | 'profile' | 'manifest' | 'other';

/** A compiled schema file. `payload`/`response` are root <dictionary> rules. */
export interface CompiledSchema {
  /** File name without directory, e.g. 'mdm_checkin_tokenupdate.yaml'. */
  file: string;
  kind: SchemaKind;
  /** MessageType, RequestType or PayloadType. */
  name: string;
  payload: KeyRule;
  response?: KeyRule;
  /** Per platform, the 'major.minor' buckets in which some bound has a patch component. */
  patchSensitive: Partial<Record<Platform, Set<string>>>;
  /** False for commands known only from commands-index.tsv: their key types are unknown. */
  fromYaml: boolean;
}
