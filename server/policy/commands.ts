/**
 * The commands the fleet policies send, shaped for each device's OS by Apple's schema:
 * a key Apple introduced in a later macOS is left out rather than sent where it is not
 * applicable. Each shape is checked (strictly) once per kind of device and remembered.
 */
import { AGENT_CHECKIN_INTERVAL_MS, type AgentConfiguration } from '../../protocol/agent';
import { commands, type Command } from '../../protocol/command';
import type { PlistDict } from '../../protocol/plist/types';
import { validateCommand, type ValidationContext } from '../../protocol/schema';
import { compareVersions, parseVersion } from '../../protocol/schema/version';
import type { EnrollmentRecord } from '../storage/types';

export interface AgentUrls {
  manifestUrl: string;
  checkinUrl: string;
  /** The pin of the server certificate's key the agent is to check (AgentConfiguration.ServerPinSHA256). */
  pin?: string;
}

/** Why a command cannot be sent to a device, from the schema's first complaint. */
export interface Unsupported {
  unsupported: string;
}

const MACOS_11 = [11, 0];

/**
 * The inventory MDM takes daily: identity, OS, hardware and security facts a posture
 * consumer reads. Each is sent only to OS versions that know it.
 */
export const INVENTORY_QUERIES: readonly string[] = [
  'UDID',
  'DeviceName',
  'OSVersion',
  'BuildVersion',
  'SupplementalOSVersionExtra',
  'SupplementalBuildVersion',
  'ProductName',
  'Model',
  'ModelName',
  'SerialNumber',
  'IsAppleSilicon',
  'DeviceCapacity',
  'AvailableDeviceCapacity',
  'IsSupervised',
  'IsActivationLockEnabled',
  'SystemIntegrityProtectionEnabled',
  'LocalHostName',
  'HostName',
  'WiFiMAC',
  'BluetoothMAC',
  'EthernetMAC',
];

type Kind = Pick<ValidationContext, 'platform' | 'osVersion' | 'enrollment'>;

export function contextOf(e: Readonly<EnrollmentRecord>): ValidationContext {
  return {
    platform: e.platform,
    osVersion: e.osVersion,
    enrollment: e.udid === undefined && e.enrollmentId !== undefined ? 'user' : 'device',
    strict: true,
  };
}

export class PolicyCommands {
  private readonly installVerdicts = new Map<string, Unsupported | undefined>();
  private readonly queriesByKind = new Map<string, string[]>();

  constructor(private readonly urls: () => AgentUrls) {}

  /**
   * InstallEnterpriseApplication for the agent: ManifestURL always; on macOS 11 and later the
   * Configuration (where the agent checks in: Apple's schema has it from 11.0) and, outside a
   * User Enrollment, InstallAsManaged with ManagementFlags 1 (the agent leaves with the MDM
   * profile). Unsupported when the schema refuses it for this device (macOS before 10.13.6).
   */
  agentInstall(e: Readonly<EnrollmentRecord>): Command | Unsupported {
    const ctx = contextOf(e);
    return this.verdict(ctx) ?? this.buildInstall(ctx);
  }

  /** Whether the agent install can go to this kind of device (checked once per OS version). */
  installSupported(e: Readonly<EnrollmentRecord>): Unsupported | undefined {
    return this.verdict(contextOf(e));
  }

  private verdict(ctx: ValidationContext): Unsupported | undefined {
    const key = kindKey(ctx);
    if (!this.installVerdicts.has(key)) {
      const result = validateCommand(this.buildInstall(ctx) as unknown as PlistDict, ctx);
      const first = result.errors[0];
      this.installVerdicts.set(key, first ? { unsupported: `${first.path || 'RequestType'}: ${first.message}` } : undefined);
    }
    return this.installVerdicts.get(key);
  }

  private buildInstall(ctx: Kind): Command {
    const { manifestUrl, checkinUrl, pin } = this.urls();
    const v = parseVersion(ctx.osVersion);
    const modern = v !== undefined && compareVersions(v, MACOS_11) >= 0;
    const configuration: AgentConfiguration = { AgentCheckinURL: checkinUrl, CheckinIntervalSeconds: AGENT_CHECKIN_INTERVAL_MS / 1000, ...(pin !== undefined ? { ServerPinSHA256: pin } : {}) };
    const managed = modern && ctx.enrollment !== 'user';
    return commands.InstallEnterpriseApplication({
      ManifestURL: manifestUrl,
      Configuration: modern ? (configuration as unknown as PlistDict) : undefined,
      InstallAsManaged: managed ? true : undefined,
      ManagementFlags: managed ? 1 : undefined,
    });
  }

  /** DeviceInformation with the INVENTORY_QUERIES this device's OS knows. */
  inventory(e: Readonly<EnrollmentRecord>): Command {
    const ctx = contextOf(e);
    const key = kindKey(ctx);
    let queries = this.queriesByKind.get(key);
    if (!queries) {
      queries = INVENTORY_QUERIES.filter((q) => validateCommand({ CommandUUID: 'probe', Command: { RequestType: 'DeviceInformation', Queries: [q] } }, ctx).ok);
      this.queriesByKind.set(key, queries);
    }
    return commands.DeviceInformation({ Queries: queries });
  }
}

function kindKey(ctx: Kind): string {
  return `${ctx.platform ?? '?'}|${ctx.osVersion ?? '?'}|${ctx.enrollment ?? 'device'}`;
}
