import type { EventQuery, EventRecord } from './types';

/** `mdm.command` matches `mdm.command` and `mdm.command.queued`, not `mdm.commander`. */
export function typeMatches(type: string, prefix: string): boolean {
  return type === prefix || (type.startsWith(prefix) && type.charCodeAt(prefix.length) === 46 /* . */);
}

/** The filters every backend applies the same way (cursor and time bounds aside). */
export function matchesEventQuery(e: EventRecord, q: EventQuery): boolean {
  if (q.udid !== undefined && e.udid !== q.udid) return false;
  if (q.types !== undefined && q.types.length > 0 && !q.types.some((t) => typeMatches(e.type, t))) return false;
  if (q.since !== undefined && e.at < q.since) return false;
  if (q.until !== undefined && e.at > q.until) return false;
  return true;
}
