/**
 * The read-only inventory queries: InstalledApplicationList, CertificateList, UserList,
 * SecurityInfo and AvailableOSUpdates. Keys follow Apple's schema for macOS, version by
 * version (each key's macOS `introduced` is noted where it matters).
 */
import type { CommandPayload } from '../../protocol/command';
import type { PlistDict, PlistValue } from '../../protocol/plist/types';
import type { CommandContext, HandlerOutcome } from '../state';
import { hasT2, osAtLeast } from './facts';
import { acknowledged } from './outcome';

// ---------------------------------------------------------------------------------------
// InstalledApplicationList

/**
 * Every app the Mac has, Apple's own included (macOS lists what is installed, not only
 * what MDM installed; a real answer lists e.g. com.apple.dt.Xcode, fleetdm/fleet#37290).
 * Identifiers and ManagedAppsOnly exist from macOS 10.15 (schema); an older Mac ignores
 * them. Items carries no meaning on macOS (n/a), so it is ignored too.
 */
export function installedApplicationList(command: CommandPayload, ctx: CommandContext): HandlerOutcome {
  const filtersKnown = osAtLeast(ctx.mac, '10.15');
  const wanted =
    filtersKnown && Array.isArray(command.Identifiers) ? new Set(command.Identifiers.filter((x): x is string => typeof x === 'string')) : undefined;
  const managedOnly = filtersKnown && command.ManagedAppsOnly === true;
  const list: PlistValue[] = [];
  for (const app of ctx.mac.apps.values()) {
    if (wanted && !wanted.has(app.bundleId)) continue;
    if (managedOnly && !app.managed) continue;
    // The keys macOS fills (schema: DynamicSize, IsValidated, AppStoreVendable and the other
    // iOS-only keys are n/a on macOS; HasUpdateAvailable is only for VPP apps).
    list.push({
      Identifier: app.bundleId,
      Name: app.name,
      Version: app.version,
      ShortVersion: app.shortVersion,
      BundleSize: app.sizeBytes,
      Installing: false,
    });
  }
  return acknowledged({ InstalledApplicationList: list });
}

// ---------------------------------------------------------------------------------------
// CertificateList

/** ManagedOnly (macOS 10.15+, schema): only certificates installed by MDM profiles. */
export function certificateList(command: CommandPayload, ctx: CommandContext): HandlerOutcome {
  const managedOnly = command.ManagedOnly === true && osAtLeast(ctx.mac, '10.15');
  const list: PlistValue[] = ctx.mac.certificates
    .filter((c) => !managedOnly || c.managed)
    .map((c) => ({ CommonName: c.commonName, Data: c.der, IsIdentity: c.isIdentity }));
  return acknowledged({ CertificateList: list });
}

// ---------------------------------------------------------------------------------------
// UserList

/**
 * The Mac's local accounts (macOS keys of the schema: UserName, FullName, UID, UserGUID,
 * IsLoggedIn, MobileAccount; HasSecureToken from macOS 11). HasDataToSync, DataQuota and
 * DataUsed are Shared iPad keys (n/a on macOS).
 */
export function userList(_command: CommandPayload, ctx: CommandContext): HandlerOutcome {
  const withSecureToken = osAtLeast(ctx.mac, '11.0');
  const users: PlistValue[] = ctx.mac.users.map((u) => {
    const user: PlistDict = {
      UserName: u.UserShortName,
      FullName: u.UserLongName,
      UID: u.UID,
      UserGUID: u.UserGUID,
      IsLoggedIn: u.IsLoggedIn,
      MobileAccount: false,
    };
    if (withSecureToken) user.HasSecureToken = u.HasSecureToken;
    return user;
  });
  return acknowledged({ Users: users });
}

// ---------------------------------------------------------------------------------------
// SecurityInfo

/**
 * The macOS keys of SecurityInfo (schema), each from the version that introduced it. Values
 * follow the Mac's state and hardware:
 * - FirmwarePasswordStatus is an Intel (EFI) feature; Apple silicon has no firmware password.
 * - SecureBoot: T2 Macs ship at Full Security with external boot disallowed (Apple Platform
 *   Security, "Startup Security Utility"); Apple silicon at Full Security, where the T2-era
 *   external boot setting does not apply; Intel Macs without T2 support neither.
 * - ManagementStatus: enrolled by profile (not Automated Device Enrollment), which the user
 *   approves in System Settings (User Approved MDM, macOS 10.13.2+).
 * - Bootstrap token: only Apple silicon uses it for authorisation; not allowed until an
 *   ADE enrollment or the user turns it on ("automatically set for devices enrolled through DEP").
 */
export function securityInfo(_command: CommandPayload, ctx: CommandContext): HandlerOutcome {
  const mac = ctx.mac;
  const id = mac.identity;
  const s = mac.security;
  const info: PlistDict = {};
  if (osAtLeast(mac, '10.9')) {
    info.FDE_Enabled = s.fileVaultEnabled;
    info.FDE_HasPersonalRecoveryKey = s.fileVaultEnabled;
    info.FDE_HasInstitutionalRecoveryKey = false;
  }
  if (osAtLeast(mac, '10.12')) {
    info.SystemIntegrityProtectionEnabled = s.sipEnabled;
    const firewall: PlistDict = { FirewallEnabled: s.firewallEnabled, BlockAllIncoming: false, StealthMode: false, Applications: [] };
    if (osAtLeast(mac, '12.0')) {
      // socketfilterfw's default logging mode is "throttled".
      firewall.LoggingEnabled = true;
      firewall.LoggingOption = 'throttled';
    }
    info.FirewallSettings = firewall;
  }
  if (osAtLeast(mac, '10.13') && !id.appleSilicon) {
    info.FirmwarePasswordStatus = { PasswordExists: false, ChangePending: false, AllowOroms: true };
  }
  if (osAtLeast(mac, '10.13.2')) {
    const status: PlistDict = { EnrolledViaDEP: false, UserApprovedEnrollment: true };
    if (osAtLeast(mac, '10.15')) {
      status.IsUserEnrollment = false;
      // Managing Activation Lock takes a supervised, ADE-enrolled device.
      status.IsActivationLockManageable = false;
    }
    info.ManagementStatus = status;
  }
  if (osAtLeast(mac, '10.15')) {
    info.SecureBoot = id.appleSilicon
      ? { SecureBootLevel: 'full', ExternalBootLevel: 'not supported' }
      : hasT2(id)
        ? { SecureBootLevel: 'full', ExternalBootLevel: 'disallowed' }
        : { SecureBootLevel: 'not supported', ExternalBootLevel: 'not supported' };
  }
  if (osAtLeast(mac, '10.14.4')) info.RemoteDesktopEnabled = s.remoteDesktopEnabled;
  if (osAtLeast(mac, '11.0')) {
    info.AuthenticatedRootVolumeEnabled = true;
    info.BootstrapTokenAllowedForAuthentication = id.appleSilicon ? 'disallowed' : 'not supported';
    info.BootstrapTokenRequiredForSoftwareUpdate = false;
    info.BootstrapTokenRequiredForKernelExtensionApproval = false;
  }
  // "Available in macOS 11.5 and later and only on Mac computers with Apple silicon."
  if (osAtLeast(mac, '11.5') && id.appleSilicon) info.IsRecoveryLockEnabled = false;
  return acknowledged({ SecurityInfo: info });
}

// ---------------------------------------------------------------------------------------
// AvailableOSUpdates

/**
 * A simulated Mac is always up to date: it answers an empty list, as macOS does when
 * Software Update finds nothing (the schema: "possibly multiple available updates in macOS";
 * none is a valid answer). A list of real updates would need Apple's catalog per build,
 * which mdmsim does not carry.
 */
export function availableOSUpdates(_command: CommandPayload, _ctx: CommandContext): HandlerOutcome {
  return acknowledged({ AvailableOSUpdates: [] });
}
