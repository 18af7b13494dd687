/**
 * Walks a plist value against a resolved rule tree and collects issues. Nothing here depends
 * on platforms or versions: resolve.ts already decided what applies.
 */
import { isPlistDict, type PlistDict, type PlistValue } from '../plist/types';
import { describeContext, type NormalizedContext, type RNode } from './resolve';
import type { KeyRule, ValidationIssue, ValidationResult } from './types';

export class Issues {
  readonly errors: ValidationIssue[] = [];
  readonly warnings: ValidationIssue[] = [];
  private described: string | undefined;
  private describedAny: string | undefined;

  constructor(
    /** Message or command name that prefixes every message, e.g. 'TokenUpdate'. */
    readonly subject: string,
    readonly ctx: NormalizedContext,
  ) {}

  /** Built only when an issue needs it: valid messages never pay for the string. */
  get where(): string {
    return (this.described ??= describeContext(this.ctx, 'every'));
  }

  /** The same, phrased for what is not applicable or not supported. */
  get whereAny(): string {
    return (this.describedAny ??= describeContext(this.ctx, 'any'));
  }

  error(path: string, code: ValidationIssue['code'], message: string, expected?: string): void {
    this.errors.push(issue(path, code, `${this.subject}: ${message}`, expected));
  }

  warn(path: string, code: ValidationIssue['code'], message: string, expected?: string): void {
    this.warnings.push(issue(path, code, `${this.subject}: ${message}`, expected));
  }

  /** Not-applicable is the one issue whose severity depends on strict mode. */
  notApplicable(path: string, what: string, reason: string | undefined): void {
    const msg = `${what} is not applicable on ${this.whereAny}: ${reason ?? 'not supported here'}`;
    if (this.ctx.strict) this.error(path, 'not-applicable', msg, reason);
    else this.warn(path, 'not-applicable', msg, reason);
  }

  result(): ValidationResult {
    return { ok: this.errors.length === 0, errors: this.errors, warnings: this.warnings };
  }
}

function issue(path: string, code: ValidationIssue['code'], message: string, expected?: string): ValidationIssue {
  const i: ValidationIssue = { path, code, message };
  if (expected !== undefined) i.expected = expected;
  return i;
}

/** Apple's spelling of a type, as it appears in the YAML and in messages. */
export function typeName(rule: KeyRule): string {
  return `<${rule.type}>`;
}

/** The plist type of a value, for "got …" in messages. */
export function plistTypeOf(v: PlistValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return '<string>';
  if (typeof v === 'boolean') return '<boolean>';
  if (typeof v === 'bigint') return '<integer>';
  if (typeof v === 'number') return Number.isInteger(v) ? '<integer>' : '<real>';
  if (v instanceof Date) return '<date>';
  if (v instanceof Uint8Array) return '<data>';
  if (Array.isArray(v)) return '<array>';
  return '<dictionary>';
}

function typeMatches(rule: KeyRule, v: PlistValue): boolean {
  switch (rule.type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
    case 'real':
      // A <real> that happens to be whole reads back as an integer: both are numbers.
      return typeof v === 'number' || typeof v === 'bigint';
    case 'boolean':
      return typeof v === 'boolean';
    case 'date':
      return v instanceof Date && !Number.isNaN(v.getTime());
    case 'data':
      return v instanceof Uint8Array;
    case 'array':
      return Array.isArray(v);
    case 'dictionary':
      return isPlistDict(v);
    case 'any':
      return true;
  }
}

function inRange(rule: KeyRule, v: PlistValue): boolean {
  const list = rule.rangelist;
  if (!list) return true;
  if (typeof v === 'bigint') return list.some((x) => typeof x === 'number' && BigInt(x) === v);
  return list.includes(v as string | number | boolean);
}

function show(v: PlistValue): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'bigint') return v.toString();
  return String(v);
}

export function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

export function walkValue(v: PlistValue, node: RNode, path: string, out: Issues): void {
  const rule = node.rule;
  if (!typeMatches(rule, v)) {
    out.error(path, 'type', `key ${path} must be ${typeName(rule)}, got ${plistTypeOf(v)}`, typeName(rule));
    return;
  }
  if (rule.rangelist && !inRange(rule, v)) {
    const allowed = rule.rangelist.map(String).join(', ');
    out.error(path, 'range', `key ${path} must be one of ${allowed}; got ${show(v)}`, `one of ${allowed}`);
  }
  if (rule.format && typeof v === 'string' && !rule.format.test(v)) {
    out.error(path, 'range', `key ${path} must match ${rule.format.source}; got ${show(v)}`, rule.format.source);
  }
  switch (rule.type) {
    case 'string':
      if (node.values && node.applicable) checkEnumeratedValue(v as string, node.values, path, out);
      return;
    case 'array':
      if (node.item) {
        const items = v as PlistValue[];
        for (let i = 0; i < items.length; i++) walkValue(items[i] as PlistValue, node.item, `${path}[${i}]`, out);
      }
      return;
    case 'dictionary':
      walkDict(v as PlistDict, node, path, out, true);
      return;
    default:
      return;
  }
}

/** A <string> whose subkeys name its permitted values (DeviceInformation's Queries). */
function checkEnumeratedValue(v: string, values: Map<string, RNode>, path: string, out: Issues): void {
  const known = values.get(v);
  if (!known) {
    // Devices skip values they do not know, so an unknown one is worth a note, not a failure.
    out.warn(path, 'unknown-key', `value ${show(v)} at ${path} is not one the schema lists`);
  } else if (!known.applicable) {
    out.notApplicable(path, `value ${show(v)} at ${path}`, known.reason);
  }
}

/**
 * Checks a dictionary's entries. `overlay` supplies envelope keys that sit beside the schema's
 * own (RequestType in a command, Status in a response); `checkRequired` is off where presence
 * depends on something outside the tree (a response's Status).
 */
export function walkDict(
  dict: PlistDict,
  node: RNode,
  path: string,
  out: Issues,
  checkRequired: boolean,
  overlay?: ReadonlyMap<string, RNode>,
): void {
  const fields = node.fields;
  // A dictionary with neither named subkeys nor ANY is free-form: nothing to flag.
  const closed = fields !== undefined && node.anyEntry === undefined;
  for (const k of Object.keys(dict)) {
    const v = dict[k] as PlistValue;
    const p = joinPath(path, k);
    const child = overlay?.get(k) ?? fields?.get(k);
    if (child) {
      // Under a key that is itself not applicable, one issue is enough.
      if (!child.applicable && node.applicable) out.notApplicable(p, `key ${p}`, child.reason);
      walkValue(v, child, p, out);
    } else if (node.anyEntry) {
      walkValue(v, node.anyEntry, p, out);
    } else if (closed) {
      out.warn(p, 'unknown-key', `key ${p} is not in the schema`);
    }
  }
  if (!checkRequired) return;
  for (const r of node.requiredFields) {
    if (!Object.hasOwn(dict, r.rule.key)) {
      const p = joinPath(path, r.rule.key);
      out.error(p, 'missing', `key ${p} is required (type ${typeName(r.rule)}) on ${out.where}`, typeName(r.rule));
    }
  }
}
