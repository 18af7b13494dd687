/**
 * The devices GET /api/v1/devices lists when it has no filter and no `ordering`: every API
 * device in storage order, kept per store and rebuilt only when the store gained enrollments
 * (or one of the enrollments that had not enrolled when it was built has enrolled since). A page
 * then builds only its own records: paging 10,000 devices 300 at a time would otherwise build
 * the whole fleet's view 34 times.
 *
 * Storage never deletes an enrollment (an API delete only marks it) and an enrollment that has
 * enrolled stays an API device for good (firstEnrolledAt is history), so a count that has not
 * changed and no pending enrollment that has enrolled means the list has not changed.
 */
import type { Storage } from '../../storage/types';
import { isApiDevice, kandjiPlatformOf } from '../device-view';

interface ListOrder {
  count: number;
  /** Enrollment ids of the API devices, in storage order. */
  ids: string[];
  /** Enrollments of a listed platform that had not enrolled when the list was built. */
  pending: string[];
}

const orders = new WeakMap<Storage, ListOrder>();

export function apiDeviceIdsInStorageOrder(store: Storage): readonly string[] {
  const count = store.countEnrollments();
  const cached = orders.get(store);
  if (cached && cached.count === count && !cached.pending.some((id) => isEnrolledApiDevice(store, id))) return cached.ids;
  const ids: string[] = [];
  const pending: string[] = [];
  for (const e of store.listEnrollments()) {
    if (isApiDevice(e)) ids.push(e.id);
    else if (kandjiPlatformOf(e) !== undefined) pending.push(e.id);
  }
  orders.set(store, { count, ids, pending });
  return ids;
}

function isEnrolledApiDevice(store: Storage, id: string): boolean {
  const e = store.getEnrollment(id);
  return e !== undefined && isApiDevice(e);
}
