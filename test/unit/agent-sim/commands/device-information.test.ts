import { knownQueries } from '../../../../agent-sim/commands';
import { validateCommand } from '../../../../protocol/schema';
import { acknowledged, ALL_OS, command, expectValid, mac, run, type Hardware, type OsName } from './helpers';

const EVERYTHING = [
  'UDID', 'ProvisioningUDID', 'OrganizationInfo', 'MDMOptions', 'AwaitingConfiguration', 'iTunesStoreAccountIsActive',
  'iTunesStoreAccountHash', 'DeviceName', 'OSVersion', 'SupplementalOSVersionExtra', 'BuildVersion', 'SupplementalBuildVersion',
  'ModelName', 'Model', 'ModelNumber', 'IsAppleSilicon', 'ProductName', 'SerialNumber', 'DeviceCapacity', 'AvailableDeviceCapacity',
  'IMEI', 'MEID', 'BatteryLevel', 'HasBattery', 'IsSupervised', 'IsMultiUser', 'IsActivationLockEnabled', 'IsActivationLockSupported',
  'ActiveManagedUsers', 'OSUpdateSettings', 'LocalHostName', 'HostName', 'AutoSetupAdminAccounts', 'SystemIntegrityProtectionEnabled',
  'SupportsLOMDevice', 'PushToken', 'BluetoothMAC', 'WiFiMAC', 'EthernetMAC', 'PINRequiredForEraseDevice', 'PINRequiredForDeviceLock',
  'SupportsiOSAppInstalls', 'SoftwareUpdateDeviceID', 'EACSPreflight', 'TimeZone', 'NoSuchQuery',
];

const MATRIX: Array<[OsName, Hardware]> = [
  ['catalina', 'intelT2'],
  ['catalina', 'intelOld'],
  ['bigSur', 'appleSilicon'],
  ['monterey', 'appleSilicon'],
  ['monterey', 'intelT2'],
  ['sonoma', 'appleSilicon'],
  ['sonoma', 'intelT2'],
  ['sequoia', 'appleSilicon'],
];

describe('DeviceInformation', () => {
  it.each(MATRIX)('on %s (%s), asked everything, answers what its macOS knows, valid (strict)', async (os, hw) => {
    const m = mac(os, hw);
    const outcome = await run(m, 'DeviceInformation', { Queries: EVERYTHING });
    expectValid(m, 'DeviceInformation', outcome);
    const answers = acknowledged(outcome).QueryResponses as Record<string, unknown>;
    // Only keys it knows, and never another platform's or a made-up one.
    for (const k of ['IMEI', 'MEID', 'IsMultiUser', 'TimeZone', 'NoSuchQuery']) expect(answers).not.toHaveProperty(k);
    expect(Object.keys(answers).every((k) => knownQueries(m.state).includes(k))).toBe(true);
  });

  it.each(ALL_OS)('on %s, the queries it knows form a command Apple’s schema accepts strictly', (os) => {
    const m = mac(os);
    const result = validateCommand(command('DeviceInformation', { Queries: knownQueries(m.state) }) as never, {
      platform: 'macOS',
      osVersion: m.state.identity.osVersion,
      strict: true,
    });
    expect(result.errors).toEqual([]);
  });

  it('answers exactly the asked queries, with the identity’s values', async () => {
    const m = mac('sonoma');
    const id = m.state.identity;
    const answers = acknowledged(
      await run(m, 'DeviceInformation', { Queries: ['UDID', 'SerialNumber', 'Model', 'ModelName', 'ProductName', 'OSVersion', 'BuildVersion', 'DeviceName', 'HostName', 'LocalHostName', 'WiFiMAC', 'BluetoothMAC', 'ModelNumber', 'IsAppleSilicon'] }),
    ).QueryResponses;
    expect(answers).toEqual({
      UDID: id.udid,
      SerialNumber: id.serialNumber,
      Model: 'MacBookPro18,3',
      ModelName: 'MacBook Pro',
      ProductName: 'MacBookPro18,3',
      OSVersion: '14.6',
      BuildVersion: '23G80',
      DeviceName: 'Jane’s MacBook Pro',
      HostName: id.hostName,
      LocalHostName: id.localHostName,
      WiFiMAC: id.wifiMac,
      BluetoothMAC: id.bluetoothMac,
      ModelNumber: 'MKGP3LL/A',
      IsAppleSilicon: true,
    });
  });

  it('reports capacity in GB (base 10) from macOS 12 and in GiB before', async () => {
    const q = { Queries: ['DeviceCapacity', 'AvailableDeviceCapacity'] };
    const sonoma = acknowledged(await run(mac('sonoma'), 'DeviceInformation', q)).QueryResponses;
    expect(sonoma).toEqual({ DeviceCapacity: 512, AvailableDeviceCapacity: 301.25 });
    const bigSur = acknowledged(await run(mac('bigSur'), 'DeviceInformation', q)).QueryResponses;
    expect(bigSur).toEqual({ DeviceCapacity: 476.84, AvailableDeviceCapacity: 280.56 });
  });

  it('leaves out keys a version predates (ModelNumber before 13.3, IsAppleSilicon before 12)', async () => {
    const answers = acknowledged(await run(mac('bigSur'), 'DeviceInformation', { Queries: ['ModelNumber', 'IsAppleSilicon', 'SerialNumber'] })).QueryResponses;
    expect(Object.keys(answers as object)).toEqual(['SerialNumber']);
  });

  it('gives ModelNumber only on Apple silicon ("Requires Apple silicon on macOS")', async () => {
    const answers = acknowledged(await run(mac('sonoma', 'intelT2'), 'DeviceInformation', { Queries: ['ModelNumber'] })).QueryResponses;
    expect(answers).toEqual({});
  });

  it('says which Macs need an erase or lock PIN, and which support EACS', async () => {
    const q = { Queries: ['PINRequiredForEraseDevice', 'PINRequiredForDeviceLock', 'EACSPreflight', 'IsActivationLockSupported'] };
    expect(acknowledged(await run(mac('sonoma', 'appleSilicon'), 'DeviceInformation', q)).QueryResponses).toEqual({
      PINRequiredForEraseDevice: false,
      PINRequiredForDeviceLock: true,
      EACSPreflight: 'success',
      IsActivationLockSupported: true,
    });
    expect(acknowledged(await run(mac('sonoma', 'intelOld'), 'DeviceInformation', q)).QueryResponses).toEqual({
      PINRequiredForEraseDevice: true,
      PINRequiredForDeviceLock: true,
      EACSPreflight: 'not supported',
      IsActivationLockSupported: false,
    });
  });

  it('is supervised from macOS 11 (Device Enrollment enforces it), not on 10.15', async () => {
    expect(acknowledged(await run(mac('catalina'), 'DeviceInformation', { Queries: ['IsSupervised'] })).QueryResponses).toEqual({ IsSupervised: false });
    expect(acknowledged(await run(mac('monterey'), 'DeviceInformation', { Queries: ['IsSupervised'] })).QueryResponses).toEqual({ IsSupervised: true });
  });

  it('reports a laptop’s battery and a desktop’s absence of one', async () => {
    const laptop = acknowledged(await run(mac('sonoma'), 'DeviceInformation', { Queries: ['HasBattery', 'BatteryLevel'] })).QueryResponses as Record<string, number>;
    expect(laptop.HasBattery).toBe(true);
    expect(laptop.BatteryLevel).toBeGreaterThan(0);
    expect(laptop.BatteryLevel).toBeLessThanOrEqual(1);
    const desktop = acknowledged(await run(mac('sonoma', 'intelT2'), 'DeviceInformation', { Queries: ['HasBattery', 'BatteryLevel', 'EthernetMAC'] })).QueryResponses;
    expect(desktop).toEqual({ HasBattery: false, EthernetMAC: 'a4:83:e7:10:20:32' });
  });

  it('gives an Apple silicon Mac a provisioning UDID of its own, an Intel Mac its UDID', async () => {
    const as = acknowledged(await run(mac('sonoma'), 'DeviceInformation', { Queries: ['ProvisioningUDID'] })).QueryResponses as Record<string, string>;
    expect(as.ProvisioningUDID).toMatch(/^00008103-[0-9A-F]{16}$/);
    const intel = mac('sonoma', 'intelT2');
    expect(acknowledged(await run(intel, 'DeviceInformation', { Queries: ['ProvisioningUDID'] })).QueryResponses).toEqual({ ProvisioningUDID: intel.state.identity.udid });
  });

  it('lists the logged-in managed user in ActiveManagedUsers', async () => {
    const m = mac('sonoma');
    expect(acknowledged(await run(m, 'DeviceInformation', { Queries: ['ActiveManagedUsers'] })).QueryResponses).toEqual({ ActiveManagedUsers: [m.state.users[0]!.UserGUID] });
  });

  it('answers a DeviceInformation without Queries with everything it knows, as macOS does', async () => {
    const m = mac('monterey');
    const outcome = await run(m, 'DeviceInformation');
    expectValid(m, 'DeviceInformation', outcome);
    expect(Object.keys(acknowledged(outcome).QueryResponses as object).length).toBeGreaterThan(25);
  });
});
