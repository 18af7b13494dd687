/**
 * /details built from what a device reported: the OS name in general.system_version follows the
 * platform, and a volume whose reported capacity is 0 has no percentage rather than "NaN%".
 */
import { buildPlistBuffer } from '../../../protocol/plist';
import { detailsJson } from '../../../server/api/devices/details';
import { apiDeviceOf } from '../../../server/api/device-view';
import { MemoryStorage } from '../../../server/storage/memory';
import type { AuthenticateFacts } from '../../../server/storage/types';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const SETTINGS = { missingAfterMs: 30 * 86_400_000 };

function details(extra: Partial<AuthenticateFacts>, queryResponses?: Record<string, number>): any {
  const store = new MemoryStorage();
  store.storeAuthenticate({ id: 'U1', udid: 'U1', topic: 'com.apple.mgmt.External.x', serialNumber: 'SN1', osVersion: '17.4', buildVersion: '21E219', deviceName: 'Device', ...extra }, T0);
  store.storeTokenUpdate('U1', { topic: 'com.apple.mgmt.External.x', token: 'a'.repeat(64), pushMagic: 'M' }, T0 + 1);
  if (queryResponses) {
    store.enqueue(['U1'], { commandUUID: 'C1', requestType: 'DeviceInformation', body: Buffer.from(''), createdAt: T0 + 2 });
    store.storeReport('U1', { commandUUID: 'C1', status: 'Acknowledged', raw: buildPlistBuffer({ UDID: 'U1', CommandUUID: 'C1', Status: 'Acknowledged', QueryResponses: queryResponses }), at: T0 + 3 });
  }
  const e = store.getEnrollment('U1')!;
  return detailsJson(store, e, apiDeviceOf(e, T0 + 4, SETTINGS, store));
}

describe('/details', () => {
  it.each([
    ['macOS', 'MacBookAir10,1', 'macOS 17.4 (21E219)'],
    ['iOS', 'iPhone15,2', 'iOS 17.4 (21E219)'],
    ['iOS', 'iPad14,1', 'iPadOS 17.4 (21E219)'],
    ['tvOS', 'AppleTV11,1', 'tvOS 17.4 (21E219)'],
  ] as const)('system_version names the OS of a %s device (%s)', (platform, model, expected) => {
    expect(details({ platform: platform as AuthenticateFacts['platform'], productName: model, model }).general.system_version).toBe(expected);
  });

  it('a volume reported with capacity 0 has no percent_used (not "NaN%" or "-Infinity%")', () => {
    const d = details({ platform: 'macOS', productName: 'MacBookAir10,1', model: 'MacBookAir10,1' }, { DeviceCapacity: 0, AvailableDeviceCapacity: 0 });
    expect(d.volumes).toHaveLength(1);
    expect(d.volumes[0]).toMatchObject({ percent_used: '', capacity: '0.00 GB', available: '0.00 GB' });
    const full = details({ platform: 'macOS', productName: 'MacBookAir10,1', model: 'MacBookAir10,1' }, { DeviceCapacity: 500, AvailableDeviceCapacity: 125 });
    expect(full.volumes[0].percent_used).toBe('75%');
  });
});
