/**
 * Plist codec benchmark: mdmsim's parser/builder against the `plist` package.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/plist.js
 *
 * Two bodies: a real ~600-byte TokenUpdate check-in, and a ~10 KB DeviceInformation-style
 * command result (generated, Apple-formatted). Each case runs for a fixed time after warm-up
 * and prints µs per operation (best of several rounds).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildPlist, parsePlist, type PlistDict, type PlistValue } from '../protocol/plist';

/** Find the repository root from either bench/ or dist/bench/. */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'fixtures', 'captures'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find fixtures/captures above ' + __dirname);
    dir = up;
  }
  return dir;
}

function deviceInformationResponse(): PlistDict {
  const queries: PlistDict = {
    UDID: '66ADE930-5FDF-5EC4-8429-15640684C489',
    DeviceName: 'Lab Mac 0042',
    OSVersion: '14.6.1',
    BuildVersion: '23G93',
    ModelName: 'MacBook Pro',
    Model: 'Mac15,3',
    ProductName: 'Mac15,3',
    SerialNumber: 'C02MT66KFLHH',
    DeviceCapacity: 460.43,
    AvailableDeviceCapacity: 211.9,
    BatteryLevel: 0.87,
    IsSupervised: true,
    IsActivationLockEnabled: false,
    IsCloudBackupEnabled: false,
    AwaitingConfiguration: false,
    HostName: 'lab-mac-0042.example.com',
    LocalHostName: 'lab-mac-0042',
    WiFiMAC: 'a4:83:e7:12:34:56',
    BluetoothMAC: 'a4:83:e7:12:34:57',
    EthernetMACs: ['a4:83:e7:12:34:58', 'a4:83:e7:12:34:59'],
    LastCloudBackupDate: new Date('2024-08-01T09:30:00Z'),
    SystemIntegrityProtectionEnabled: true,
    SupportsLOMDevice: false,
    MDMOptions: { ActivationLockAllowedWhileSupervised: true },
    SecurityInfo: {
      FDE_Enabled: true,
      FDE_HasPersonalRecoveryKey: true,
      FDE_HasInstitutionalRecoveryKey: false,
      FirewallSettings: { FirewallEnabled: true, BlockAllIncoming: false, StealthMode: true, Applications: [] },
      SecureBoot: { SecureBootLevel: 'full', ExternalBootLevel: 'disallowed', ReducedSecurityPolicy: {} },
      AuthenticatedRootVolumeEnabled: true,
      BootstrapTokenAllowedForAuthentication: 'allowed',
      IsRecoveryLockEnabled: false,
    },
    OSUpdateSettings: {
      AutoCheckEnabled: true,
      AutomaticAppInstallationEnabled: true,
      AutomaticOSInstallationEnabled: false,
      BackgroundDownloadEnabled: true,
      CatalogURL: 'https://swscan.apple.com/content/catalogs/others/index-14-13-12.merged-1.sucatalog',
      PreviousScanDate: new Date('2024-08-20T11:00:00Z'),
      PreviousScanResult: 0,
    },
    PushToken: Buffer.alloc(32, 0x5a),
  };
  // Pad with installed-profile style entries until the body is ~10 KB, like a chatty response.
  const profiles: PlistValue[] = [];
  for (let i = 0; profiles.length < 14; i++) {
    profiles.push({
      PayloadIdentifier: `com.example.lab.profile.${i}`,
      PayloadUUID: `9A1C6B1E-2F3D-4E5F-8A9B-${String(100000000000 + i)}`,
      PayloadDisplayName: `Lab profile number ${i} & settings`,
      PayloadVersion: 1,
      IsManaged: i % 3 !== 0,
      InstallDate: new Date(Date.UTC(2024, 6, 1 + i, 8, 0, 0)),
    });
  }
  queries.InstalledProfiles = profiles;
  return {
    CommandUUID: '76eda240-5488-4989-8339-f2ae160113c4',
    QueryResponses: queries,
    RequestType: 'DeviceInformation',
    Status: 'Acknowledged',
    UDID: '66ADE930-5FDF-5EC4-8429-15640684C489',
  };
}

/**
 * µs per call of `fn`: the best of several short rounds after a warm-up. The minimum is the
 * figure least disturbed by whatever else the machine is doing (GC, other processes).
 */
function time(fn: () => unknown, rounds = 7, roundMs = 120): number {
  const warmUntil = Date.now() + 150;
  while (Date.now() < warmUntil) fn();
  let best = Infinity;
  const budget = BigInt(roundMs) * 1_000_000n;
  for (let r = 0; r < rounds; r++) {
    let ops = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    while (elapsed < budget) {
      for (let i = 0; i < 50; i++) fn();
      ops += 50;
      elapsed = process.hrtime.bigint() - start;
    }
    best = Math.min(best, Number(elapsed) / 1000 / ops);
  }
  return best;
}

function row(label: string, ours: number, theirs: number): void {
  const fmt = (us: number) => `${us.toFixed(2).padStart(9)} µs`;
  console.log(`  ${label.padEnd(6)} mdmsim ${fmt(ours)}   plist ${fmt(theirs)}   ×${(theirs / ours).toFixed(1)}`);
}

async function main(): Promise<void> {
  const plist = await import('plist');
  const root = repoRoot();
  const tokenUpdate = readFileSync(join(root, 'fixtures/captures/nanomdm/mdm_testdata_TokenUpdate.2.plist'));
  const bigXml = buildPlist(deviceInformationResponse());
  const cases = [
    { name: `TokenUpdate capture (${tokenUpdate.length} bytes)`, body: tokenUpdate },
    { name: `DeviceInformation-like response (${Buffer.byteLength(bigXml)} bytes)`, body: Buffer.from(bigXml) },
  ];
  for (const { name, body } of cases) {
    const text = body.toString('utf8');
    const value = parsePlist(body);
    // The plist package builds from its own parse output (Uint8Array for data).
    const theirValue = plist.parse(text);
    console.log(name);
    row('parse', time(() => parsePlist(text)), time(() => plist.parse(text)));
    // What the server really does: UTF-8 validation and decoding of the request body included.
    console.log(`  parse from the Buffer: mdmsim ${time(() => parsePlist(body)).toFixed(2).padStart(9)} µs`);
    row('build', time(() => buildPlist(value)), time(() => plist.build(theirValue)));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
