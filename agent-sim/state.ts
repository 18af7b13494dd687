/**
 * What a simulated Mac is and has: its identity (what it tells MDM in Authenticate and
 * DeviceInformation), what is installed on it, and the contract of its command handlers.
 * The Mac (mac.ts) owns the state; handlers (commands/) read it and change it.
 */
import type { Clock } from '../protocol/clock';
import type { CommandPayload } from '../protocol/command';
import type { PlistDict } from '../protocol/plist/types';
import type { ErrorChainItem } from '../protocol/result';

/** Who the Mac is: stable for its life (an erase keeps the hardware, so the identity). */
export interface MacIdentity {
  /** UUID form, upper case (a Mac's provisioning UDID looks like this). */
  udid: string;
  /** 12 characters. */
  serialNumber: string;
  /** Model identifier, e.g. `MacBookPro18,3` (also Authenticate's ProductName on a Mac). */
  model: string;
  /** e.g. `MacBook Pro`. */
  modelName: string;
  /** e.g. `MacBook Pro (14-inch, 2021)`. */
  marketingName: string;
  /** Apple part number, e.g. `MKGP3LL/A`. */
  modelNumber: string;
  appleSilicon: boolean;
  osVersion: string;
  buildVersion: string;
  deviceName: string;
  hostName: string;
  localHostName: string;
  /** `aa:bb:cc:dd:ee:ff`. */
  wifiMac: string;
  bluetoothMac: string;
  ethernetMacs: string[];
  /** Bytes; a round marketing size (e.g. 512 GB) as a Mac reports it. */
  storageCapacityBytes: number;
  storageAvailableBytes: number;
}

export interface InstalledApp {
  bundleId: string;
  name: string;
  /** CFBundleVersion. */
  version: string;
  /** CFBundleShortVersionString. */
  shortVersion: string;
  path: string;
  sizeBytes: number;
  installedAt: number;
  /** Installed by MDM (InstallEnterpriseApplication). */
  managed: boolean;
}

export interface InstalledProfile {
  PayloadIdentifier: string;
  PayloadUUID: string;
  PayloadDisplayName?: string;
  PayloadDescription?: string;
  PayloadOrganization?: string;
  PayloadVersion: number;
  PayloadRemovalDisallowed?: boolean;
  /** Installed by MDM (or the enrollment profile itself). */
  managed: boolean;
  /** The profile's top-level dictionary as installed (the signed content, unwrapped). */
  content: PlistDict;
  installedAt: number;
}

export interface InstalledCertificate {
  commonName: string;
  der: Buffer;
  isIdentity: boolean;
  /** Installed by a managed profile (the MDM identity and CA are). */
  managed: boolean;
}

export interface MacUser {
  UserShortName: string;
  UserLongName: string;
  UserGUID: string;
  UID: number;
  IsLoggedIn: boolean;
  HasSecureToken: boolean;
}

/** The vendor agent as the Mac sees it. */
export interface AgentState {
  installed: boolean;
  version?: string;
  installedAt?: number;
  /** Where it checks in (from the install's Configuration, or the ManifestURL's origin). */
  checkinUrl?: string;
  intervalMs?: number;
  /** The server key it pins (Configuration.ServerPinSHA256): base64 SHA-256 of the SPKI; none, no pinning. */
  pin?: string;
}

export interface MacState {
  readonly identity: MacIdentity;
  apps: Map<string, InstalledApp>;
  /** By PayloadIdentifier. */
  profiles: Map<string, InstalledProfile>;
  certificates: InstalledCertificate[];
  users: MacUser[];
  agent: AgentState;
  /** Set by DeviceLock until the Mac is unlocked (a simulation detail). */
  lockedWithPin?: string;
  /** Security facts reported by SecurityInfo; FileVault etc. */
  security: { fileVaultEnabled: boolean; sipEnabled: boolean; firewallEnabled: boolean; remoteDesktopEnabled: boolean };
}

/** How the Mac reaches the network for a handler: its faults (package-download) apply here. */
export interface MacNetwork {
  /** GET over HTTPS as the Mac would (its trust store, its proxy, its faults). Throws NetworkError. */
  get(url: string, purpose: 'manifest' | 'package'): Promise<Buffer>;
}

export class NetworkError extends Error {
  constructor(
    message: string,
    readonly url: string,
    /** HTTP status when the server answered, else undefined (connection failed). */
    readonly status?: number,
    /** The system error code when the connection failed (ENOTFOUND, ECONNREFUSED, ECONNRESET…). */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'NetworkError';
  }
}

export interface CommandContext {
  mac: MacState;
  clock: Clock;
  network: MacNetwork;
  /** Certificates the Mac trusts for HTTPS (the enrollment profile's anchors), DER. */
  anchors: Buffer[];
}

/** What to do after the report has been sent (it must reach the server first). */
export type AfterReport = 'erase' | 'restart' | 'shutdown' | 'start-agent';

export type HandlerOutcome =
  | { status: 'Acknowledged'; response?: PlistDict; after?: AfterReport[] }
  | { status: 'Error'; errorChain: ErrorChainItem[] }
  | { status: 'CommandFormatError'; errorChain?: ErrorChainItem[] };

export type CommandHandler = (command: CommandPayload, ctx: CommandContext) => Promise<HandlerOutcome> | HandlerOutcome;
