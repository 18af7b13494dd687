/**
 * The devices in device_id order, kept per store and rebuilt only when enrollments were added,
 * so that Prism's default listing (no filter, sorted by device_id) answers a page in
 * O(page + log n) instead of building and sorting the whole fleet per request: paging through
 * 10,000 devices 300 at a time would otherwise redo that work 34 times.
 *
 * - Enrollments are never deleted from storage (an API delete only marks them), so a count that
 *   has not changed means the set has not changed.
 * - The API shows an enrollment once it has enrolled (isApiDevice), and from then on for good
 *   (firstEnrolledAt is history, never cleared). Enrollments that had not enrolled when the
 *   order was built are kept in `pending` and looked at again per page: usually none, a few
 *   while Macs are mid-enrollment.
 */
import type { Storage } from '../../storage/types';
import { deviceIdOf, isApiDevice, kandjiPlatformOf } from '../device-view';

export interface DeviceOrder {
  /** device_ids, ascending. */
  deviceIds: string[];
  /** The enrollment id of each, same positions. */
  enrollmentIds: string[];
  /** Enrollment ids in the order that had not enrolled yet when it was built. */
  pending: Set<string>;
}

const orders = new WeakMap<Storage, { count: number; order: DeviceOrder }>();

export function deviceOrder(store: Storage): DeviceOrder {
  const count = store.countEnrollments();
  const cached = orders.get(store);
  if (cached && cached.count === count) {
    for (const id of cached.order.pending) {
      const e = store.getEnrollment(id);
      if (e && isApiDevice(e)) cached.order.pending.delete(id);
    }
    return cached.order;
  }
  const pairs: [string, string][] = [];
  const pending = new Set<string>();
  for (const e of store.listEnrollments()) {
    if (kandjiPlatformOf(e) === undefined) continue;
    pairs.push([deviceIdOf(store, e.id), e.id]);
    if (!isApiDevice(e)) pending.add(e.id);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const order = { deviceIds: pairs.map((p) => p[0]), enrollmentIds: pairs.map((p) => p[1]), pending };
  orders.set(store, { count, order });
  return order;
}

/** The first position whose device_id is greater than `deviceId` (binary search). */
export function positionAfter(order: DeviceOrder, deviceId: string): number {
  let lo = 0;
  let hi = order.deviceIds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (order.deviceIds[mid]! <= deviceId) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first position whose device_id is not less than `deviceId`. */
export function positionAtOrAfter(order: DeviceOrder, deviceId: string): number {
  let lo = 0;
  let hi = order.deviceIds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (order.deviceIds[mid]! < deviceId) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
