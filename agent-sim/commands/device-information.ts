/**
 * DeviceInformation: answers exactly the asked Queries that this Mac knows, under
 * `QueryResponses`; a query it does not know (another platform's, a newer macOS's, or a
 * made-up one) is left out, as devices do.
 *
 * Which queries a macOS version knows comes from Apple's schema (the `Queries` values'
 * macOS `introduced`, mdm_commands_information.device.yaml); the values come from the Mac's
 * identity and state. Queries the simulation cannot answer truthfully are not answered:
 * PushToken (the MDM client holds it, not the handlers), OrganizationInfo and MDMOptions
 * (set by a Settings command mdmsim does not handle), iTunesStoreAccountHash (no Apple ID),
 * AutoSetupAdminAccounts (Automated Device Enrollment only), SoftwareUpdateDeviceID (a board
 * ID per hardware model, not in the identity), DevicePropertiesAttestation (needs Apple's
 * attestation CA), SupplementalOSVersionExtra (only present with a Rapid Security Response).
 *
 * macOS answers a DeviceInformation without Queries (Jesse Peterson, micromdm/nanomdm#258:
 * "DeviceInformation without any Queries is 'supported' on macOS"), although the schema
 * marks the key required; we answer every query we know then.
 */
import type { CommandPayload } from '../../protocol/command';
import type { PlistDict, PlistValue } from '../../protocol/plist/types';
import type { CommandContext, HandlerOutcome, MacState } from '../state';
import {
  hasBattery,
  hasSecureEnclave,
  osAtLeast,
  pinRequiredForErase,
  pinRequiredForLock,
  stableFraction,
} from './facts';
import { acknowledged } from './outcome';

interface Query {
  /** macOS version that introduced the query (schema); absent = every version (10.7). */
  since?: string;
  /** undefined = the Mac has no value to give (the key is then left out). */
  answer(mac: MacState, ctx: CommandContext): PlistValue | undefined;
}

/** Two decimals, as capacities read in real answers (e.g. 494.38). */
function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * "The total capacity in floating-point base-10 gigabytes (GB) on iOS and macOS 12 or later.
 * The capacity is in base-2 gibibytes (GiB) on macOS 11 and earlier." (schema)
 */
function gigabytes(mac: MacState, bytes: number): number {
  return round2(bytes / (osAtLeast(mac, '12.0') ? 1e9 : 2 ** 30));
}

function availableBytes(mac: MacState): number {
  // Apps installed since the Mac left the factory take their room.
  let used = 0;
  for (const app of mac.apps.values()) if (app.managed) used += app.sizeBytes;
  return Math.max(0, mac.identity.storageAvailableBytes - used);
}

const HOUR = 3_600_000;

export const QUERIES: Readonly<Record<string, Query>> = {
  UDID: { answer: (m) => m.identity.udid },
  // "This value differs from the UDID on Macs with Apple silicon" (schema). Its form there,
  // 8 hex digits of chip ID, a dash and 16 of ECID, is that of Apple silicon provisioning
  // UDIDs; the chip ID is M1's (8103) for every Apple silicon Mac, a simplification.
  ProvisioningUDID: {
    since: '11.3',
    answer: (m) => {
      if (!m.identity.appleSilicon) return m.identity.udid;
      const ecid = Math.floor(stableFraction(m.identity, 'ecid') * 2 ** 52).toString(16).toUpperCase().padStart(16, '0');
      return `00008103-${ecid}`;
    },
  },
  AwaitingConfiguration: { since: '10.11', answer: () => false },
  iTunesStoreAccountIsActive: { since: '10.9', answer: () => false },
  DeviceName: { answer: (m) => m.identity.deviceName },
  OSVersion: { answer: (m) => m.identity.osVersion },
  BuildVersion: { answer: (m) => m.identity.buildVersion },
  // Without a Rapid Security Response the supplemental build is the build.
  SupplementalBuildVersion: { since: '13.0', answer: (m) => m.identity.buildVersion },
  // On a Mac, Model and ProductName are both the model identifier and ModelName the family
  // name (a real macOS Authenticate: Model iMac14,2, ModelName iMac, ProductName iMac14,2,
  // reference/captures/nanomdm/mdm_testdata_Authenticate.2.plist).
  ModelName: { answer: (m) => m.identity.modelName },
  Model: { answer: (m) => m.identity.model },
  ProductName: { answer: (m) => m.identity.model },
  // "Requires Apple silicon on macOS" (schema).
  ModelNumber: { since: '13.3', answer: (m) => (m.identity.appleSilicon ? m.identity.modelNumber : undefined) },
  IsAppleSilicon: { since: '12.0', answer: (m) => m.identity.appleSilicon },
  SerialNumber: { answer: (m) => m.identity.serialNumber },
  DeviceCapacity: { answer: (m) => gigabytes(m, m.identity.storageCapacityBytes) },
  AvailableDeviceCapacity: { answer: (m) => gigabytes(m, availableBytes(m)) },
  // Between 0.0 and 1.0; a laptop's charge wanders through the day.
  BatteryLevel: {
    since: '13.3',
    answer: (m, ctx) => {
      if (!hasBattery(m.identity)) return undefined;
      const day = Math.floor(ctx.clock.now() / (24 * HOUR));
      return round2(0.35 + 0.6 * stableFraction(m.identity, `battery-${day}`));
    },
  },
  HasBattery: { since: '13.3', answer: (m) => hasBattery(m.identity) },
  // "On Mac computers using macOS 11 or later, Device Enrollment also enforces supervision"
  // (Apple Platform Deployment, "Device Enrollment and MDM"); before that only ADE supervised.
  IsSupervised: { since: '10.15', answer: (m) => osAtLeast(m, '11.0') },
  // No Apple ID signed in to Find My on a simulated Mac.
  IsActivationLockEnabled: { since: '10.15', answer: () => false },
  IsActivationLockSupported: { since: '10.15', answer: (m) => hasSecureEnclave(m.identity) },
  // "the directory GUIDs of the logged-in managed users" (schema): the local user who
  // installed the enrollment profile is managed (MDM Protocol Reference, macOS extensions).
  ActiveManagedUsers: { since: '10.11', answer: (m) => m.users.filter((u) => u.IsLoggedIn).map((u) => u.UserGUID) },
  OSUpdateSettings: {
    since: '10.11',
    answer: (m, ctx) => {
      // Software Update checks about once a day; the last scan was some hours ago.
      // Whole seconds: a plist <date> has no finer grain.
      const lastScan = Math.floor((ctx.clock.now() - (2 + 20 * stableFraction(m.identity, 'su-scan')) * HOUR) / 1000) * 1000;
      const settings: PlistDict = {
        IsDefaultCatalog: true,
        PreviousScanDate: new Date(lastScan),
        PerformPeriodicCheck: true,
        AutoCheckEnabled: true,
        BackgroundDownloadEnabled: true,
        AutomaticAppInstallationEnabled: false,
        AutomaticOSInstallationEnabled: false,
        AutomaticSecurityUpdatesEnabled: true,
      };
      // Deprecated in 11 and removed in 15 (schema): only older Macs still send it.
      if (!osAtLeast(m, '11.0')) settings.PreviousScanResult = '0';
      return settings;
    },
  },
  LocalHostName: { since: '10.11', answer: (m) => m.identity.localHostName },
  HostName: { since: '10.11', answer: (m) => m.identity.hostName },
  SystemIntegrityProtectionEnabled: { since: '10.12', answer: (m) => m.security.sipEnabled },
  // Lights-out management is for Mac Pro/Mac mini fleets with a LOM controller; none here.
  SupportsLOMDevice: { since: '11.0', answer: () => false },
  BluetoothMAC: { answer: (m) => m.identity.bluetoothMac },
  WiFiMAC: { answer: (m) => m.identity.wifiMac },
  // "The primary Ethernet MAC address" (schema).
  EthernetMAC: { answer: (m) => m.identity.ethernetMacs[0] },
  PINRequiredForEraseDevice: { since: '11.0', answer: (m) => pinRequiredForErase(m.identity) },
  PINRequiredForDeviceLock: { since: '11.0', answer: (m) => pinRequiredForLock(m.identity) },
  // iOS and iPadOS apps run on Apple silicon only.
  SupportsiOSAppInstalls: { since: '11.0', answer: (m) => m.identity.appleSilicon },
  // 'success' or 'not supported' ("The device is too old to support EACS"; schema).
  EACSPreflight: { since: '13.3', answer: (m) => (hasSecureEnclave(m.identity) ? 'success' : 'not supported') },
};

/** The queries this Mac's macOS version knows. */
export function knownQueries(mac: MacState): string[] {
  return Object.keys(QUERIES).filter((q) => {
    const since = QUERIES[q]!.since;
    return since === undefined || osAtLeast(mac, since);
  });
}

export function deviceInformation(command: CommandPayload, ctx: CommandContext): HandlerOutcome {
  const mac = ctx.mac;
  const asked = Array.isArray(command.Queries) ? command.Queries : knownQueries(mac);
  const responses: PlistDict = {};
  for (const q of asked) {
    if (typeof q !== 'string' || !Object.hasOwn(QUERIES, q) || Object.hasOwn(responses, q)) continue;
    const query = QUERIES[q]!;
    if (query.since !== undefined && !osAtLeast(mac, query.since)) continue;
    const value = query.answer(mac, ctx);
    if (value !== undefined) responses[q] = value;
  }
  return acknowledged({ QueryResponses: responses });
}
