import { agentInstalledOf, apiDeviceOf, apiDevices, deviceIdFor, findApiDevice, kandjiPlatformOf } from '../../../server/api/device-view';
import { MemoryStorage } from '../../../server/storage/memory';
import type { AuthenticateFacts } from '../../../server/storage/types';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const DAY = 86_400_000;
const SETTINGS = { missingAfterMs: 30 * DAY };

function facts(id: string, extra: Partial<AuthenticateFacts> = {}): AuthenticateFacts {
  return { id, udid: id, topic: 'com.apple.mgmt.External.x', serialNumber: `SN-${id}`, platform: 'macOS', osVersion: '14.4.1', buildVersion: '23E224', productName: 'MacBookAir10,1', model: 'MacBookAir10,1', modelName: 'MacBook Air', deviceName: `Mac ${id}`, ...extra };
}

function enrolled(store: MemoryStorage, id: string, extra: Partial<AuthenticateFacts> = {}): void {
  store.storeAuthenticate(facts(id, extra), T0);
  store.storeTokenUpdate(id, { topic: 'com.apple.mgmt.External.x', token: id.padEnd(64, '0').toLowerCase().replace(/[^0-9a-f]/g, 'a'), pushMagic: 'M' }, T0 + 1000);
}

describe('device view', () => {
  it('derives a stable version 5 UUID from the enrollment id', () => {
    const id = deviceIdFor('5A0C3F1E-8B7D-4C2A-9E61-0D3B2F4A7C15');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deviceIdFor('5A0C3F1E-8B7D-4C2A-9E61-0D3B2F4A7C15')).toBe(id);
    expect(deviceIdFor('5A0C3F1E-8B7D-4C2A-9E61-0D3B2F4A7C16')).not.toBe(id);
  });

  it('finds a device by device_id, including enrollments added after the first lookup; a wiped Mac keeps its id', () => {
    const store = new MemoryStorage();
    enrolled(store, 'U1');
    expect(findApiDevice(store, deviceIdFor('U1'))?.id).toBe('U1');
    expect(findApiDevice(store, deviceIdFor('NOPE'))).toBeUndefined();
    enrolled(store, 'U2');
    expect(findApiDevice(store, deviceIdFor('U2'))?.id).toBe('U2');
    expect(findApiDevice(store, deviceIdFor('U2').toUpperCase())?.id).toBe('U2');
    store.storeAuthenticate(facts('U1'), T0 + DAY);
    expect(findApiDevice(store, deviceIdFor('U1'))?.id).toBe('U1');
  });

  it('maps the model identifier to its marketing name, else what the device reported', () => {
    const store = new MemoryStorage();
    enrolled(store, 'U1');
    enrolled(store, 'U2', { productName: 'Mac99,9', model: 'Mac99,9', modelName: 'Mac Future' });
    const [a, b] = apiDevices(store, T0 + 2000, SETTINGS);
    expect(a).toMatchObject({ model: 'MacBook Air (M1, 2020)', modelIdentifier: 'MacBookAir10,1', platform: 'Mac', name: 'Mac U1', serialNumber: 'SN-U1' });
    expect(b!.model).toBe('Mac Future');
  });

  it('agent_installed: false before install, true after an acknowledged install or an agent check-in, false once gone or removed', () => {
    const store = new MemoryStorage();
    enrolled(store, 'U1');
    const view = () => apiDeviceOf(store.getEnrollment('U1')!, T0 + 5000, SETTINGS, store);
    expect(view().agentInstalled).toBe(false);
    store.markAgentInstallQueued('U1', 'IEA', T0 + 1100);
    store.storeAgentInstallOutcome('U1', 'IEA', 'Acknowledged', T0 + 1200);
    expect(view()).toMatchObject({ agentInstalled: true, agentInstalledAt: T0 + 1200 });
    store.markAgentGone('U1', T0 + 1300);
    expect(view()).toMatchObject({ agentInstalled: false, agentVersion: undefined });
    store.storeAgentCheckin('U1', { version: '1.4.2', kind: 'install', installedAt: T0 + 1350 }, T0 + 1400);
    expect(view()).toMatchObject({ agentInstalled: true, agentVersion: '1.4.2', agentInstalledAt: T0 + 1350, lastAgentCheckinAt: T0 + 1400, lastCheckinAt: T0 + 1400 });
    store.markRemoved('U1', T0 + 1500);
    expect(view()).toMatchObject({ agentInstalled: false, isRemoved: true });
  });

  it('agent_installed is null for a platform that runs no agent; watchOS is not shown', () => {
    const store = new MemoryStorage();
    enrolled(store, 'P1', { platform: 'iOS', productName: 'iPad13,1', model: undefined, modelName: undefined, deviceName: undefined });
    enrolled(store, 'W1', { platform: 'watchOS', productName: 'Watch6,1' });
    expect(kandjiPlatformOf(store.getEnrollment('P1')!)).toBe('iPad');
    expect(agentInstalledOf(store.getEnrollment('P1')!)).toBeNull();
    expect(apiDevices(store, T0, SETTINGS).map((d) => d.enrollmentId)).toEqual(['P1']);
    expect(findApiDevice(store, deviceIdFor('W1'))).toBeUndefined();
  });

  it('shows only enrollments that enrolled at least once', () => {
    const store = new MemoryStorage();
    store.storeAuthenticate(facts('A1'), T0);
    expect(apiDevices(store, T0, SETTINGS)).toEqual([]);
    expect(findApiDevice(store, deviceIdFor('A1'))).toBeUndefined();
    enrolled(store, 'A1');
    expect(apiDevices(store, T0, SETTINGS)).toHaveLength(1);
  });

  it('is_missing once no check-in of any kind for the setting', () => {
    const store = new MemoryStorage();
    enrolled(store, 'U1'); // last MDM check-in T0 + 1000
    store.storeAgentCheckin('U1', { version: '1.4.2', kind: 'recurring', installedAt: T0 }, T0 + 10 * DAY);
    const e = store.getEnrollment('U1')!;
    expect(apiDeviceOf(e, T0 + 40 * DAY - 1, SETTINGS).isMissing).toBe(false);
    expect(apiDeviceOf(e, T0 + 40 * DAY, SETTINGS).isMissing).toBe(true);
    expect(apiDeviceOf(e, T0 + 12 * DAY, { missingAfterMs: DAY }).isMissing).toBe(true);
  });
});
