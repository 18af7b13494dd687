/**
 * What a device last reported over MDM, read back from stored results: the latest Acknowledged
 * answer of a RequestType, parsed from the plist exactly as it came over the wire.
 */
import { parsePlist } from '../../../protocol/plist';
import { isPlistDict, type PlistDict, type PlistValue } from '../../../protocol/plist/types';
import type { ResultRecord, Storage } from '../../storage/types';

export type LatestReports = Partial<Record<string, PlistDict>>;

/** The latest Acknowledged answer of each RequestType in `types` (one pass, newest first). */
export function latestReports(store: Storage, id: string, types: readonly string[]): LatestReports {
  const out: LatestReports = {};
  const wanted = new Set(types);
  const results = store.listResults({ id });
  for (let i = results.length - 1; i >= 0 && wanted.size > 0; i--) {
    const r = results[i]!;
    if (r.status !== 'Acknowledged' || !wanted.has(r.requestType)) continue;
    const dict = parse(r);
    if (dict) {
      out[r.requestType] = dict;
      wanted.delete(r.requestType);
    }
  }
  return out;
}

export function parse(r: ResultRecord): PlistDict | undefined {
  try {
    const v = parsePlist(r.raw);
    return isPlistDict(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export function dictOf(v: PlistValue | undefined): PlistDict {
  return v !== undefined && isPlistDict(v) ? v : {};
}

export function listOf(v: PlistValue | undefined): PlistDict[] {
  return Array.isArray(v) ? v.filter((x): x is PlistDict => isPlistDict(x)) : [];
}

export function str(v: PlistValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: PlistValue | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

export function bool(v: PlistValue | undefined): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}
