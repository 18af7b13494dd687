import { apiDeviceIdsInStorageOrder } from '../../../server/api/devices/list-order';
import { apiDevices } from '../../../server/api/device-view';
import { MemoryStorage } from '../../../server/storage/memory';
import type { AuthenticateFacts } from '../../../server/storage/types';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function authenticate(store: MemoryStorage, id: string, platform: AuthenticateFacts['platform'] = 'macOS'): void {
  store.storeAuthenticate({ id, udid: id, topic: 't', serialNumber: `SN-${id}`, platform }, T0);
}
function tokenUpdate(store: MemoryStorage, id: string): void {
  store.storeTokenUpdate(id, { topic: 't', token: 'ab'.repeat(32), pushMagic: 'M' }, T0 + 1000);
}
const listed = (store: MemoryStorage) => apiDevices(store, T0, { missingAfterMs: 1 }).map((d) => d.enrollmentId);

describe('apiDeviceIdsInStorageOrder: the unfiltered /devices list', () => {
  it('is exactly the API devices in storage order, and follows enrollments as they come and complete', () => {
    const store = new MemoryStorage();
    for (const id of ['A', 'B', 'C']) {
      authenticate(store, id);
      tokenUpdate(store, id);
    }
    authenticate(store, 'W', 'watchOS' as AuthenticateFacts['platform']);
    authenticate(store, 'D'); // mid-enrollment: not a device yet
    expect(apiDeviceIdsInStorageOrder(store)).toEqual(['A', 'B', 'C']);
    expect(apiDeviceIdsInStorageOrder(store)).toEqual(listed(store));
    // D completes its enrollment with no new enrollment in the store: the list must see it.
    tokenUpdate(store, 'D');
    expect(apiDeviceIdsInStorageOrder(store)).toEqual(['A', 'B', 'C', 'D']);
    // A new enrollment changes the count.
    authenticate(store, 'E');
    tokenUpdate(store, 'E');
    expect(apiDeviceIdsInStorageOrder(store)).toEqual(listed(store));
    expect(apiDeviceIdsInStorageOrder(store)).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('is rebuilt only when something changed (same array between pages)', () => {
    const store = new MemoryStorage();
    authenticate(store, 'A');
    tokenUpdate(store, 'A');
    const first = apiDeviceIdsInStorageOrder(store);
    expect(apiDeviceIdsInStorageOrder(store)).toBe(first);
  });
});
