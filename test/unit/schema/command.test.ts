import type { PlistDict } from '../../../protocol/plist/types';
import {
  commandInfo,
  validateCommand,
  type ValidationContext,
  type ValidationResult,
} from '../../../protocol/schema';

const codes = (r: ValidationResult, which: 'errors' | 'warnings' = 'errors'): string[] =>
  r[which].map((i) => `${i.code}:${i.path}`);

const cmd = (requestType: string, payload: PlistDict = {}): PlistDict => ({
  CommandUUID: '0D7E8F3C-5C2B-4F4A-9E2C-3A1F2B4C5D6E',
  Command: { RequestType: requestType, ...payload },
});

const mac14: ValidationContext = { platform: 'macOS', osVersion: '14.2.1', strict: true };
const ios17: ValidationContext = { platform: 'iOS', osVersion: '17.2', strict: true };

describe('InstallEnterpriseApplication', () => {
  const install = cmd('InstallEnterpriseApplication', {
    ManifestURL: 'https://mdm.example.test/agent/manifest.plist',
    InstallAsManaged: true,
    ManagementFlags: 1,
    ManifestURLPinningCerts: [Buffer.from([0x30, 0x82])],
    PinningRevocationCheckRequired: false,
  });

  it('is valid for macOS 14', () => {
    const r = validateCommand(install, mac14);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('is unsupported on iOS', () => {
    const r = validateCommand(install, ios17);
    expect(r.ok).toBe(false);
    expect(codes(r)).toEqual(['unsupported:Command.RequestType']);
    expect(r.errors[0]?.message).toContain('InstallEnterpriseApplication is not supported on iOS 17.2 device channel');
    expect(r.errors[0]?.expected).toBe('supported on macOS 10.13.6+');
  });

  it('respects the patch-level introduction 10.13.6', () => {
    const bare = cmd('InstallEnterpriseApplication', { ManifestURL: 'https://x.test/m.plist' });
    expect(codes(validateCommand(bare, { platform: 'macOS', osVersion: '10.13.5' }))).toEqual(['unsupported:Command.RequestType']);
    expect(validateCommand(bare, { platform: 'macOS', osVersion: '10.13.6' }).ok).toBe(true);
    expect(validateCommand(bare, { platform: 'macOS', osVersion: '10.13' }).ok).toBe(false);
    expect(validateCommand(bare, { platform: 'macOS', osVersion: '10.14' }).ok).toBe(true);
  });

  it('flags keys introduced in macOS 11 when sent to 10.15', () => {
    const r = validateCommand(install, { platform: 'macOS', osVersion: '10.15.7', strict: true });
    expect(codes(r).sort()).toEqual(['not-applicable:Command.InstallAsManaged', 'not-applicable:Command.ManagementFlags']);
    expect(r.errors[0]?.message).toContain('introduced in macOS 11.0');
  });

  it('rejects a ManagementFlags value outside the rangelist and a wrong item type', () => {
    const r = validateCommand(
      cmd('InstallEnterpriseApplication', { ManagementFlags: 4, ManifestURLPinningCerts: ['not DER'] }),
      mac14,
    );
    expect(codes(r).sort()).toEqual(['range:Command.ManagementFlags', 'type:Command.ManifestURLPinningCerts[0]']);
  });

  it('is unsupported on the user channel', () => {
    expect(codes(validateCommand(install, { ...mac14, channel: 'user' }))).toEqual(['unsupported:Command.RequestType']);
  });
});

describe('other commands', () => {
  it('DeviceLock with PIN on macOS passes; PIN is not applicable on iOS', () => {
    const lock = cmd('DeviceLock', { PIN: '123456', Message: 'Call IT' });
    expect(validateCommand(lock, mac14).errors).toEqual([]);
    const r = validateCommand(lock, ios17);
    expect(codes(r)).toEqual(['not-applicable:Command.PIN']);
    expect(r.errors[0]?.message).toBe(
      'DeviceLock: key Command.PIN is not applicable on iOS 17.2 device channel: not available on iOS',
    );
  });

  it('DeviceLock is unsupported for a user-enrolled Mac', () => {
    expect(codes(validateCommand(cmd('DeviceLock'), { ...mac14, enrollment: 'user' }))).toEqual(['unsupported:Command.RequestType']);
  });

  it('ProfileList, RemoveProfile, InstallProfile envelopes', () => {
    expect(validateCommand(cmd('ProfileList', { ManagedOnly: true }), mac14).errors).toEqual([]);
    expect(validateCommand(cmd('RemoveProfile', { Identifier: 'com.example.wifi' }), mac14).errors).toEqual([]);
    expect(validateCommand(cmd('InstallProfile', { Payload: Buffer.from('<plist/>') }), mac14).errors).toEqual([]);

    const noId = validateCommand(cmd('RemoveProfile'), mac14);
    expect(codes(noId)).toEqual(['missing:Command.Identifier']);
    expect(noId.errors[0]?.message).toBe(
      'RemoveProfile: key Command.Identifier is required (type <string>) on macOS 14.2.1 device channel',
    );
    expect(codes(validateCommand(cmd('InstallProfile', { Payload: 'base64?' }), mac14))).toEqual(['type:Command.Payload']);
    // ManagedOnly arrived in macOS 10.15.
    expect(codes(validateCommand(cmd('ProfileList', { ManagedOnly: true }), { platform: 'macOS', osVersion: '10.14', strict: true }))).toEqual([
      'not-applicable:Command.ManagedOnly',
    ]);
  });

  it('EraseDevice: macOS keys, rangelist, iOS-only keys', () => {
    const erase = cmd('EraseDevice', { PIN: '123456', ObliterationBehavior: 'DoNotObliterate' });
    expect(validateCommand(erase, mac14).errors).toEqual([]);
    expect(codes(validateCommand(cmd('EraseDevice', { ObliterationBehavior: 'Sometimes' }), mac14))).toEqual([
      'range:Command.ObliterationBehavior',
    ]);
    const rts = cmd('EraseDevice', { ReturnToService: { Enabled: true, WiFiProfileData: Buffer.from('x') } });
    expect(validateCommand(rts, ios17).errors).toEqual([]);
    expect(codes(validateCommand(rts, mac14))).toEqual(['not-applicable:Command.ReturnToService']);
    expect(codes(validateCommand(cmd('EraseDevice', { ReturnToService: {} }), ios17))).toEqual([
      'missing:Command.ReturnToService.Enabled',
    ]);
  });

  it('DeviceInformation: query names are checked against the schema', () => {
    const info = cmd('DeviceInformation', { Queries: ['UDID', 'OSVersion', 'SerialNumber', 'HostName'] });
    expect(validateCommand(info, mac14).errors).toEqual([]);
    expect(codes(validateCommand(info, ios17))).toEqual(['not-applicable:Command.Queries[3]']);

    const odd = validateCommand(cmd('DeviceInformation', { Queries: ['OSVersion', 'FavouriteColour'] }), mac14);
    expect(odd.ok).toBe(true);
    expect(codes(odd, 'warnings')).toEqual(['unknown-key:Command.Queries[1]']);

    expect(codes(validateCommand(cmd('DeviceInformation', { Queries: 'OSVersion' }), mac14))).toEqual(['type:Command.Queries']);
    expect(codes(validateCommand(cmd('DeviceInformation'), mac14))).toEqual(['missing:Command.Queries']);
  });

  it('the six commands fetched from Apple: CertificateList, SecurityInfo, AvailableOSUpdates, UserList, RestartDevice, ShutDownDevice', () => {
    for (const rt of ['CertificateList', 'SecurityInfo', 'AvailableOSUpdates', 'UserList', 'ShutDownDevice']) {
      expect({ rt, errors: validateCommand(cmd(rt), mac14).errors }).toEqual({ rt, errors: [] });
    }
    expect(validateCommand(cmd('RestartDevice', { NotifyUser: true, RebuildKernelCache: false, KextPaths: ['/Library/Extensions/x.kext'] }), mac14).errors).toEqual([]);
    // NotifyUser: macOS 11.4 and later.
    expect(codes(validateCommand(cmd('RestartDevice', { NotifyUser: true }), { platform: 'macOS', osVersion: '11.3', strict: true }))).toEqual([
      'not-applicable:Command.NotifyUser',
    ]);
    // UserList on iOS exists only on Shared iPad.
    expect(codes(validateCommand(cmd('UserList'), ios17))).toEqual(['unsupported:Command.RequestType']);
    expect(validateCommand(cmd('UserList'), { ...ios17, sharedIPad: true }).ok).toBe(true);
    // ShutDownDevice is not on tvOS.
    expect(codes(validateCommand(cmd('ShutDownDevice'), { platform: 'tvOS' }))).toEqual(['unsupported:Command.RequestType']);
  });

  it('a command with no YAML here is checked by key names from commands-index.tsv', () => {
    expect(validateCommand(cmd('ScheduleOSUpdateScan', { Force: true }), mac14).errors).toEqual([]);
    const r = validateCommand(cmd('ScheduleOSUpdateScan', { Forse: true }), mac14);
    expect(codes(r, 'warnings')).toEqual(['unknown-key:Command.Forse']);
    expect(codes(validateCommand(cmd('ScheduleOSUpdateScan'), ios17))).toEqual(['unsupported:Command.RequestType']);
  });
});

describe('command envelope', () => {
  it('rejects an unknown RequestType', () => {
    const r = validateCommand(cmd('MakeCoffee'));
    expect(codes(r)).toEqual(['unknown-message:Command.RequestType']);
    expect(r.errors[0]?.message).toContain("unknown RequestType 'MakeCoffee'");
  });

  it('requires CommandUUID, Command and RequestType', () => {
    expect(codes(validateCommand({ Command: { RequestType: 'ProfileList' } }))).toEqual(['missing:CommandUUID']);
    expect(codes(validateCommand({ CommandUUID: 'u' }))).toEqual(['missing:Command']);
    expect(codes(validateCommand({ CommandUUID: 'u', Command: {} }))).toEqual(['missing:Command.RequestType']);
    expect(codes(validateCommand({ CommandUUID: 'u', Command: 'ProfileList' }))).toEqual(['type:Command']);
    expect(codes(validateCommand({ CommandUUID: 7, Command: { RequestType: 'ProfileList' } }))).toEqual(['type:CommandUUID']);
  });

  it('warns about unknown keys at either level, never fails on them', () => {
    const r = validateCommand({ ...cmd('ProfileList', { Extra: 1 }), Note: 'x' }, mac14);
    expect(r.ok).toBe(true);
    expect(codes(r, 'warnings').sort()).toEqual(['unknown-key:Command.Extra', 'unknown-key:Note']);
  });

  it('without a context, platform-specific keys are accepted', () => {
    expect(validateCommand(cmd('EraseDevice', { PIN: '123456', PreserveDataPlan: true }), { strict: true }).errors).toEqual([]);
  });
});

describe('commandInfo', () => {
  it('describes a YAML-backed command', () => {
    expect(commandInfo('InstallEnterpriseApplication')).toEqual({
      requestType: 'InstallEnterpriseApplication',
      platforms: { macOS: { introduced: '10.13.6' } },
      payloadKeys: [
        'Manifest',
        'ManifestURL',
        'ManifestURLPinningCerts',
        'PinningRevocationCheckRequired',
        'InstallAsManaged',
        'ManagementFlags',
        'Configuration',
        'ChangeManagementState',
        'iOSApp',
      ],
      hasResponseKeys: false,
    });
    const info = commandInfo('DeviceInformation');
    expect(info?.hasResponseKeys).toBe(true);
    expect(info?.platforms.iOS).toEqual({ introduced: '4.0' });
    expect(info?.payloadKeys).toEqual(['Queries', 'DeviceAttestationNonce']);
  });

  it('falls back to commands-index.tsv, which only knows macOS and iOS', () => {
    expect(commandInfo('Settings')).toEqual({
      requestType: 'Settings',
      platforms: { macOS: { introduced: '10.9' }, iOS: { introduced: '5.0' } },
      payloadKeys: ['Settings'],
      hasResponseKeys: true,
    });
    expect(commandInfo('MakeCoffee')).toBeUndefined();
  });
});
