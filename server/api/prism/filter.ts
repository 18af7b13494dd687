/**
 * Prism's `filter` parameter: a JSON object of field → {operator: operand}, every condition
 * must hold. `{"serial_number": {"in": ["C02..."]}, "os_version": {"like": ["14."]}}`.
 *
 * Operators: eq, in, not_in, like, not_like (case-insensitive "contains"; a string or a list,
 * like matching any, not_like none), lt, gt, lte, gte. Dates compare as times (operands in any
 * ISO form, `2024-01-26`, `2024-01-26T16:15:36Z`, or Kandji's own `+00:00` form); a null value
 * satisfies only `eq: null`, `in` with null, and the negative operators.
 *
 * A filter that cannot be understood is a FilterError whose message says what to fix: the API
 * answers it as 400 {"detail": ...}.
 */
import { compareRaw, isPrismField, PRISM_FIELD_NAMES, PRISM_FIELDS, type PrismField, type RawValue } from './fields';
import type { ApiDevice } from '../device-view';

export const FILTER_OPERATORS = ['eq', 'in', 'not_in', 'like', 'not_like', 'lt', 'gt', 'lte', 'gte'] as const;
type Operator = (typeof FILTER_OPERATORS)[number];

export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

export type DevicePredicate = (d: ApiDevice) => boolean;

/** Parses the `filter` parameter; undefined or an empty string/object filters nothing. */
export function parseFilter(text: string | undefined): DevicePredicate | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new FilterError(`filter is not valid JSON (${(error as Error).message}); expected e.g. {"serial_number": {"in": ["C02ZT1ABMD6T"]}}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FilterError('filter must be a JSON object of field → {operator: value}, e.g. {"mdm_enabled": {"eq": true}}');
  }
  const conditions: DevicePredicate[] = [];
  for (const [name, spec] of Object.entries(parsed as Record<string, unknown>)) {
    if (!isPrismField(name)) throw new FilterError(`filter: unknown field "${name}"; fields: ${PRISM_FIELD_NAMES.join(', ')}`);
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
      throw new FilterError(`filter: ${name} needs an object of operator → value, e.g. {"${name}": {"eq": ...}}; operators: ${FILTER_OPERATORS.join(', ')}`);
    }
    const field = PRISM_FIELDS[name];
    for (const [op, operand] of Object.entries(spec as Record<string, unknown>)) {
      if (!(FILTER_OPERATORS as readonly string[]).includes(op)) {
        throw new FilterError(`filter: unknown operator "${op}" on ${name}; operators: ${FILTER_OPERATORS.join(', ')}`);
      }
      const test = condition(name, field, op as Operator, operand);
      conditions.push((d) => test(field.raw(d)));
    }
  }
  if (conditions.length === 0) return undefined;
  return (d) => conditions.every((c) => c(d));
}

function condition(name: string, field: PrismField, op: Operator, operand: unknown): (v: RawValue) => boolean {
  switch (op) {
    case 'eq': {
      const want = operandValue(name, field, op, operand);
      return (v) => compareRaw(v, want) === 0;
    }
    case 'in':
    case 'not_in': {
      if (!Array.isArray(operand)) throw new FilterError(`filter: ${name}.${op} takes a list, e.g. {"${name}": {"${op}": [...]}}`);
      const wanted = operand.map((o) => operandValue(name, field, op, o));
      const inList = (v: RawValue) => wanted.some((w) => compareRaw(v, w) === 0);
      return op === 'in' ? inList : (v) => !inList(v);
    }
    case 'like':
    case 'not_like': {
      const list = Array.isArray(operand) ? operand : [operand];
      if (list.length === 0 || !list.every((o) => typeof o === 'string')) {
        throw new FilterError(`filter: ${name}.${op} takes a string or a list of strings (matched as "contains", ignoring case)`);
      }
      const needles = (list as string[]).map((s) => s.toLowerCase());
      const matches = (v: RawValue) => v !== null && needles.some((n) => shown(field, v).toLowerCase().includes(n));
      return op === 'like' ? matches : (v) => !matches(v);
    }
    default: {
      const want = operandValue(name, field, op, operand);
      if (want === null) throw new FilterError(`filter: ${name}.${op} cannot compare with null`);
      const holds = { lt: (c: number) => c < 0, lte: (c: number) => c <= 0, gt: (c: number) => c > 0, gte: (c: number) => c >= 0 }[op];
      return (v) => v !== null && holds(compareRaw(v, want));
    }
  }
}

/** An operand as a raw value of the field's type, or a FilterError saying what was expected. */
function operandValue(name: string, field: PrismField, op: string, operand: unknown): RawValue {
  if (operand === null) return null;
  switch (field.type) {
    case 'boolean':
      if (typeof operand === 'boolean') return operand;
      if (typeof operand === 'string' && /^(true|false)$/i.test(operand)) return operand.toLowerCase() === 'true';
      throw new FilterError(`filter: ${name}.${op} compares a boolean: use true, false${field.nullable ? ' or null' : ''}`);
    case 'date': {
      const ms = typeof operand === 'string' ? parseKandjiDate(operand) : NaN;
      if (Number.isNaN(ms)) throw new FilterError(`filter: ${name}.${op} compares a date: use an ISO 8601 string such as "2024-01-26" or "2024-01-26T16:15:36Z"`);
      return ms;
    }
    default:
      if (typeof operand === 'string') return operand;
      if (typeof operand === 'number') return String(operand);
      throw new FilterError(`filter: ${name}.${op} compares text: use a string`);
  }
}

/** A date as text for like/not_like: the form the record shows. */
function shown(field: PrismField, v: Exclude<RawValue, null>): string {
  if (field.type === 'date') return new Date(v as number).toISOString().replace('Z', '000+00:00');
  return String(v);
}

/** ISO 8601 in the forms Kandji's clients send, microseconds included (cut to ms). */
export function parseKandjiDate(text: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (!m) return NaN;
  const [, day, time, fraction, rawZone] = m;
  const zone = rawZone && rawZone !== 'Z' && !rawZone.includes(':') ? `${rawZone.slice(0, 3)}:${rawZone.slice(3)}` : rawZone;
  const iso = `${day}T${time ?? '00:00'}${time && time.length === 5 ? ':00' : ''}${fraction ? `.${fraction.slice(0, 3).padEnd(3, '0')}` : ''}${zone ?? 'Z'}`;
  return Date.parse(iso);
}
