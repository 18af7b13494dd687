/**
 * Plist values through JSON, for the APIs. JSON has no <data> or <date>: going out, data
 * becomes base64 and dates ISO strings; coming in, `{"$data": "<base64>"}` and
 * `{"$date": "<ISO>"}` say which is which.
 */
import { isPlistDict, type PlistDict, type PlistValue } from './plist/types';
import { MAX_DEPTH } from './plist/xml-parse';
import { problem } from './problem';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export function plistToJson(value: PlistValue): Json {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Array.isArray(value)) return value.map(plistToJson);
  if (isPlistDict(value)) {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) out[k] = plistToJson(v);
    return out;
  }
  return value;
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

export function jsonToPlist(value: unknown, path = '', depth = 0): PlistValue {
  const where = path || '(root)';
  // A plist deeper than the codec's bound could be accepted here and then fail to serialize.
  if (depth > MAX_DEPTH) throw problem(400, 'too-deep', `${where} is nested deeper than ${MAX_DEPTH} levels`, { field: path || undefined, expected: `at most ${MAX_DEPTH} levels of arrays and objects` });
  if (value === null || value === undefined) {
    throw problem(400, 'null-value', `${where} is null; a property list has no null`, { field: path || undefined, hint: 'leave the key out instead' });
  }
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw problem(400, 'bad-number', `${where} is not a finite number`, { field: path || undefined });
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => jsonToPlist(v, `${path}[${i}]`, depth + 1));
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === '$data') {
      const b64 = obj.$data;
      if (typeof b64 !== 'string' || !BASE64.test(b64)) {
        throw problem(400, 'bad-data', `${where}.$data must be a base64 string`, { field: path || undefined, expected: 'base64' });
      }
      return Buffer.from(b64, 'base64');
    }
    if (keys.length === 1 && keys[0] === '$date') {
      const d = new Date(String(obj.$date));
      if (Number.isNaN(d.getTime())) {
        throw problem(400, 'bad-date', `${where}.$date must be an ISO-8601 time`, { field: path || undefined, expected: '2026-01-31T12:00:00Z' });
      }
      return d;
    }
    const out: PlistDict = {};
    for (const k of keys) out[k] = jsonToPlist(obj[k], path ? `${path}.${k}` : k, depth + 1);
    return out;
  }
  throw problem(400, 'bad-value', `${where} has no property-list form`, { field: path || undefined });
}
