/**
 * listEnrollments' paging over records in enrollment order, shared by the backends that keep
 * their enrollments in memory (the SQLite one keeps a copy there too).
 */
import type { EnrollmentQuery, EnrollmentRecord } from './types';

export function pageEnrollments(records: Iterable<EnrollmentRecord>, query: EnrollmentQuery = {}): Readonly<EnrollmentRecord>[] {
  const offset = Math.max(0, query.offset ?? 0);
  const limit = Math.max(0, query.limit ?? Number.POSITIVE_INFINITY);
  const out: EnrollmentRecord[] = [];
  let skipped = 0;
  for (const e of records) {
    if (query.enabled !== undefined && e.enabled !== query.enabled) continue;
    if (skipped < offset) {
      skipped++;
      continue;
    }
    if (out.length >= limit) break;
    out.push(e);
  }
  return out;
}
