import { AGENT_BUNDLE_ID } from '../../../../protocol/agent';
import { buildPlistBuffer, parsePlist } from '../../../../protocol/plist';
import type { PlistDict } from '../../../../protocol/plist/types';
import { acknowledged, ALL_OS, expectValid, mac, NOW, reportOf, run } from './helpers';

describe('InstalledApplicationList', () => {
  it.each(ALL_OS)('on %s lists the bundled apps with the keys macOS sends (strict schema)', async (os) => {
    const m = mac(os);
    const outcome = await run(m, 'InstalledApplicationList');
    expectValid(m, 'InstalledApplicationList', outcome);
    const list = acknowledged(outcome).InstalledApplicationList as PlistDict[];
    const safari = list.find((a) => a.Identifier === 'com.apple.Safari');
    expect(safari).toEqual({ Identifier: 'com.apple.Safari', Name: 'Safari', Version: expect.any(String), ShortVersion: expect.any(String), BundleSize: expect.any(Number), Installing: false });
    expect(list.length).toBeGreaterThanOrEqual(10);
  });

  it('filters by Identifiers and ManagedAppsOnly (macOS 10.15+)', async () => {
    const m = mac('sonoma');
    m.state.apps.set(AGENT_BUNDLE_ID, { bundleId: AGENT_BUNDLE_ID, name: 'mdmsim Agent', version: '1.4.2', shortVersion: '1.4.2', path: '/Applications/mdmsim Agent.app', sizeBytes: 1234, installedAt: NOW, managed: true });
    const ids = acknowledged(await run(m, 'InstalledApplicationList', { Identifiers: ['com.apple.Safari', 'com.example.absent'] })).InstalledApplicationList as PlistDict[];
    expect(ids.map((a) => a.Identifier)).toEqual(['com.apple.Safari']);
    const managed = acknowledged(await run(m, 'InstalledApplicationList', { ManagedAppsOnly: true })).InstalledApplicationList as PlistDict[];
    expect(managed).toEqual([{ Identifier: AGENT_BUNDLE_ID, Name: 'mdmsim Agent', Version: '1.4.2', ShortVersion: '1.4.2', BundleSize: 1234, Installing: false }]);
  });

  it('ignores the filters on macOS 10.14, which predates them', async () => {
    const m = mac('catalina', 'intelT2', { osVersion: '10.14.6', buildVersion: '18G103' });
    const all = acknowledged(await run(m, 'InstalledApplicationList', { ManagedAppsOnly: true })).InstalledApplicationList as PlistDict[];
    expect(all.length).toBe(m.state.apps.size);
  });
});

describe('SecurityInfo', () => {
  it.each([
    ['catalina', 'intelT2'],
    ['catalina', 'intelOld'],
    ['bigSur', 'appleSilicon'],
    ['monterey', 'intelT2'],
    ['sonoma', 'appleSilicon'],
    ['sequoia', 'appleSilicon'],
  ] as const)('on %s (%s) answers the macOS keys of its version (strict schema)', async (os, hw) => {
    const m = mac(os, hw);
    const outcome = await run(m, 'SecurityInfo');
    expectValid(m, 'SecurityInfo', outcome);
    const info = acknowledged(outcome).SecurityInfo as PlistDict;
    expect(info).toMatchObject({ FDE_Enabled: false, SystemIntegrityProtectionEnabled: true, RemoteDesktopEnabled: false });
    expect(info.FirewallSettings).toMatchObject({ FirewallEnabled: false });
    expect(info.ManagementStatus).toMatchObject({ EnrolledViaDEP: false, UserApprovedEnrollment: true });
    expect('FirmwarePasswordStatus' in info).toBe(hw !== 'appleSilicon');
    // Apple silicon from 11.5 only (every Apple silicon release here is 11.5 or later).
    expect('IsRecoveryLockEnabled' in info).toBe(hw === 'appleSilicon');
  });

  it('follows the Mac’s state', async () => {
    const m = mac('sonoma');
    m.state.security = { fileVaultEnabled: true, sipEnabled: false, firewallEnabled: true, remoteDesktopEnabled: true };
    const info = acknowledged(await run(m, 'SecurityInfo')).SecurityInfo as PlistDict;
    expect(info).toMatchObject({ FDE_Enabled: true, FDE_HasPersonalRecoveryKey: true, SystemIntegrityProtectionEnabled: false, RemoteDesktopEnabled: true });
    expect(info.FirewallSettings).toMatchObject({ FirewallEnabled: true });
  });

  it('reports Secure Boot by hardware', async () => {
    const boot = async (hw: 'appleSilicon' | 'intelT2' | 'intelOld') => (acknowledged(await run(mac('monterey', hw), 'SecurityInfo')).SecurityInfo as PlistDict).SecureBoot;
    expect(await boot('appleSilicon')).toEqual({ SecureBootLevel: 'full', ExternalBootLevel: 'not supported' });
    expect(await boot('intelT2')).toEqual({ SecureBootLevel: 'full', ExternalBootLevel: 'disallowed' });
    expect(await boot('intelOld')).toEqual({ SecureBootLevel: 'not supported', ExternalBootLevel: 'not supported' });
  });
});

describe('UserList, CertificateList, AvailableOSUpdates', () => {
  it.each(ALL_OS)('on %s answer valid lists (strict schema)', async (os) => {
    const m = mac(os);
    for (const rt of ['UserList', 'CertificateList', 'AvailableOSUpdates']) expectValid(m, rt, await run(m, rt));
    const users = acknowledged(await run(m, 'UserList')).Users as PlistDict[];
    expect(users).toEqual([
      {
        // "Jane’s MacBook Pro" → jane; the Catalina Mac is "Front Desk iMac" → admin.
        UserName: os === 'catalina' ? 'admin' : 'jane',
        FullName: os === 'catalina' ? 'Administrator' : 'Jane',
        UID: 501,
        UserGUID: m.state.users[0]!.UserGUID,
        IsLoggedIn: true,
        MobileAccount: false,
        ...(os === 'catalina' ? {} : { HasSecureToken: true }),
      },
    ]);
    expect(acknowledged(await run(m, 'AvailableOSUpdates'))).toEqual({ AvailableOSUpdates: [] });
    expect(acknowledged(await run(m, 'CertificateList'))).toEqual({ CertificateList: [] });
  });
});

describe('every answer survives the wire', () => {
  it.each(ALL_OS)('on %s: each query’s report writes to XML and reads back the same', async (os) => {
    const m = mac(os);
    for (const rt of ['DeviceInformation', 'InstalledApplicationList', 'SecurityInfo', 'UserList', 'ProfileList', 'CertificateList', 'AvailableOSUpdates']) {
      const report = reportOf(m, await run(m, rt));
      expect(parsePlist(buildPlistBuffer(report))).toEqual(report);
    }
  });
});
