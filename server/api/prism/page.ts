/**
 * One page of Prism's device_information: the request's parameters, the devices they select,
 * and the envelope `{cursor, data, limit, offset, total}`.
 *
 * Paging, as Kandji's clients use it:
 * - Offset mode (no `cursor` parameter): `offset` (default 0) and `limit` (default and ceiling
 *   300, like DRF's limit/offset pagination: a bad or oversized value falls back or is capped).
 *   The envelope echoes `offset`.
 * - Cursor mode (`cursor` present; empty = the first page): the page after the cursor's
 *   position; `offset` is null and ignored.
 * - Either way `cursor` is the next page's cursor while there are more devices, and null on the
 *   last page, so a client may start with plain `?limit=300` and follow cursors to the end (as
 *   Kandji's Prism clients do), stopping on a null cursor.
 * - `total` counts every device the filter selects, not the page.
 */
import { KANDJI_MAX_LIMIT } from '../../../protocol/kandji';
import type { Storage } from '../../storage/types';
import { drfPositiveInt } from '../drf-int';
import { apiDeviceOf, apiDevices, type ApiDevice, type DeviceViewSettings } from '../device-view';
import { CursorError, decodeCursor, encodeCursor, type CursorPosition } from './cursor';
import { deviceOrder, positionAfter, positionAtOrAfter } from './device-order';
import { compareRaw, isPrismField, PRISM_FIELD_NAMES, PRISM_FIELDS, prismRecordOf, type PrismDeviceRecord, type PrismFieldName } from './fields';
import { FilterError, parseFilter, type DevicePredicate } from './filter';

export interface PrismPage {
  cursor: string | null;
  data: PrismDeviceRecord[];
  limit: number;
  offset: number | null;
  total: number;
}

export interface PrismQuery {
  limit: number;
  /** null in cursor mode. */
  offset: number | null;
  /** The position to continue after; undefined for a first page. */
  after?: CursorPosition;
  sort: { spec: string; field: PrismFieldName; descending: boolean };
  filter?: DevicePredicate;
}

/** A request that cannot be answered: 400 with this message as `detail`. */
export class PrismQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrismQueryError';
  }
}

const DEFAULT_SORT = 'device_id';
const FAMILIES = ['Mac', 'iPhone', 'iPad', 'AppleTV'];

/** The query parameters (first value of each; unknown ones ignored, as Kandji does). */
export function parsePrismQuery(params: Record<string, string | undefined>): PrismQuery {
  const sortSpec = (params.sort_by ?? '').trim() || DEFAULT_SORT;
  const descending = sortSpec.startsWith('-');
  const fieldName = descending ? sortSpec.slice(1) : sortSpec;
  if (!isPrismField(fieldName)) throw new PrismQueryError(`sort_by: unknown field "${fieldName}"; fields: ${PRISM_FIELD_NAMES.join(', ')} (prefix - for descending)`);
  const sort = { spec: sortSpec, field: fieldName, descending };

  let filter: DevicePredicate | undefined;
  try {
    filter = parseFilter(params.filter);
  } catch (error) {
    if (error instanceof FilterError) throw new PrismQueryError(error.message);
    throw error;
  }
  const families = (params.device_families ?? '').split(',').map((f) => f.trim()).filter((f) => f !== '');
  const unknownFamily = families.find((f) => !FAMILIES.includes(f));
  if (unknownFamily !== undefined) throw new PrismQueryError(`device_families: unknown family "${unknownFamily}"; families: ${FAMILIES.join(', ')}`);
  if (families.length > 0) {
    const byFilter = filter;
    filter = (d) => families.includes(d.platform) && (byFilter === undefined || byFilter(d));
  }

  const limit = Math.min(drfPositiveInt(params.limit, true) ?? KANDJI_MAX_LIMIT, KANDJI_MAX_LIMIT);
  if (params.cursor !== undefined) {
    let after: CursorPosition | undefined;
    if (params.cursor.trim() !== '') {
      try {
        after = decodeCursor(params.cursor.trim(), sort.spec);
      } catch (error) {
        if (error instanceof CursorError) throw new PrismQueryError(error.message);
        throw error;
      }
    }
    return { limit, offset: null, after, sort, filter };
  }
  return { limit, offset: drfPositiveInt(params.offset) ?? 0, sort, filter };
}

/** The page the query asks for, from the devices as they are at `now`. */
export function prismPage(store: Storage, now: number, settings: DeviceViewSettings, q: PrismQuery): PrismPage {
  if (q.filter === undefined && q.sort.field === 'device_id') return byDeviceId(store, now, settings, q);
  const field = PRISM_FIELDS[q.sort.field];
  const sign = q.sort.descending ? -1 : 1;
  const rows = apiDevices(store, now, settings)
    .filter((d) => q.filter === undefined || q.filter(d))
    .map((d) => ({ d, key: field.raw(d) }));
  const order = (a: { key: ReturnType<typeof field.raw>; d: ApiDevice }, b: { key: ReturnType<typeof field.raw>; d: ApiDevice }): number =>
    sign * (compareRaw(a.key, b.key) || (a.d.deviceId < b.d.deviceId ? -1 : a.d.deviceId > b.d.deviceId ? 1 : 0));
  rows.sort(order);
  let start = q.offset ?? 0;
  if (q.after) {
    const pos = { key: q.after.value, d: { deviceId: q.after.deviceId } as ApiDevice };
    start = rows.findIndex((r) => order(r, pos) > 0);
    if (start < 0) start = rows.length;
  }
  const page = rows.slice(start, start + q.limit);
  const last = page[page.length - 1];
  const more = start + page.length < rows.length;
  return {
    cursor: last && more ? encodeCursor({ sort: q.sort.spec, value: last.key, deviceId: last.d.deviceId }) : null,
    data: page.map((r) => prismRecordOf(r.d)),
    limit: q.limit,
    offset: q.offset,
    total: rows.length,
  };
}

/** The default listing: straight from the device_id order, building only the page's devices. */
function byDeviceId(store: Storage, now: number, settings: DeviceViewSettings, q: PrismQuery): PrismPage {
  const order = deviceOrder(store);
  const n = order.deviceIds.length;
  const { pending } = order;
  // Walk positions k = 0.. in the requested direction; entry i of the ascending order at each.
  const at = (k: number) => (q.sort.descending ? n - 1 - k : k);
  let k = 0;
  if (q.after) {
    // Ascending: the ids above the cursor's; descending: the ids below it.
    k = q.sort.descending ? n - positionAtOrAfter(order, q.after.deviceId) : positionAfter(order, q.after.deviceId);
  } else if (q.offset) {
    // Offsets count shown devices: step over enrollments still mid-enrollment.
    for (let skipped = 0; k < n && skipped < q.offset; k++) if (!pending.has(order.enrollmentIds[at(k)]!)) skipped++;
  }
  const data: PrismDeviceRecord[] = [];
  let lastId: string | undefined;
  for (; k < n && data.length < q.limit; k++) {
    const i = at(k);
    const e = store.getEnrollment(order.enrollmentIds[i]!);
    if (!e || pending.has(e.id)) continue;
    lastId = order.deviceIds[i]!;
    data.push(prismRecordOf(apiDeviceOf(e, now, settings, store)));
  }
  let more = false;
  for (let j = k; j < n && !more; j++) more = !pending.has(order.enrollmentIds[at(j)]!);
  return {
    cursor: lastId !== undefined && more ? encodeCursor({ sort: q.sort.spec, value: lastId, deviceId: lastId }) : null,
    data,
    limit: q.limit,
    offset: q.offset,
    total: n - pending.size,
  };
}
