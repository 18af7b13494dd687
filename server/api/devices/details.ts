/**
 * GET /api/v1/devices/{device_id}/details: Kandji's nested blocks, filled from what the device
 * last reported (DeviceInformation, SecurityInfo, ProfileList, UserList) where the server has
 * it, and empty where it has not. Inside `mdm` and `kandji_agent` the booleans are the strings
 * "True"/"False", as Kandji sends them; `mdm.last_check_in` is space-separated, the agent's ISO
 * with Z. Every block Kandji's own scripts read exists even when empty
 * (hardware_overview.processor_name, volumes, users.system_users, installed_profiles).
 */
import { kandjiIsoZ, kandjiSpaced, type KandjiPlatform } from '../../../protocol/kandji';
import type { ApiDevice } from '../device-view';
import type { EnrollmentRecord, Storage } from '../../storage/types';
import { MDMSIM_BLUEPRINT } from './list';
import { bool, dictOf, latestReports, listOf, num, str } from './reports';

const pyBool = (b: boolean): 'True' | 'False' => (b ? 'True' : 'False');

/** The OS a device of each Kandji platform runs, as system_version names it. */
const OS_NAME: Record<KandjiPlatform, string> = { Mac: 'macOS', iPhone: 'iOS', iPad: 'iPadOS', AppleTV: 'tvOS' };
const GB = 1_000_000_000;

/** "Apple M1" from "MacBook Air (M1, 2020)"; Intel otherwise; "" when nothing says. */
function processorName(d: ApiDevice, appleSilicon: boolean | undefined): string {
  const chip = /\b(M\d+(?: (?:Pro|Max|Ultra))?)\b/.exec(d.model)?.[1];
  if (chip) return `Apple ${chip}`;
  if (appleSilicon === true) return 'Apple silicon';
  if (appleSilicon === false) return 'Intel';
  return '';
}

export function detailsJson(store: Storage, e: Readonly<EnrollmentRecord>, d: ApiDevice): Record<string, unknown> {
  const r = latestReports(store, e.id, ['DeviceInformation', 'SecurityInfo', 'ProfileList', 'UserList']);
  const info = dictOf(r.DeviceInformation?.QueryResponses);
  const security = dictOf(r.SecurityInfo?.SecurityInfo);
  const management = dictOf(security.ManagementStatus);
  const firewall = dictOf(security.FirewallSettings);
  const firmware = dictOf(security.FirmwarePasswordStatus);
  const fileVault = bool(security.FDE_Enabled);
  const capacityGb = num(info.DeviceCapacity);
  const availableGb = num(info.AvailableDeviceCapacity);
  const users = listOf(r.UserList?.Users);
  const lastUser = users.find((u) => u.IsLoggedIn === true);

  return {
    general: {
      device_id: d.deviceId,
      device_name: d.name,
      last_enrollment: kandjiSpaced(d.lastEnrollmentAt ?? d.lastMdmCheckinAt),
      first_enrollment: kandjiSpaced(d.firstEnrollmentAt ?? d.lastMdmCheckinAt),
      model: d.model,
      platform: d.platform,
      os_version: d.osVersion,
      system_version: d.osVersion === '' ? '' : `${OS_NAME[d.platform]} ${d.osVersion}${d.buildVersion ? ` (${d.buildVersion})` : ''}`,
      boot_volume_version: d.osVersion,
      time_since_boot: '',
      last_user: str(lastUser?.UserName) ?? '',
      asset_tag: '',
      assigned_user: '',
      blueprint_name: MDMSIM_BLUEPRINT.name,
      blueprint_uuid: MDMSIM_BLUEPRINT.id,
    },
    mdm: {
      mdm_enabled: pyBool(d.mdmEnabled),
      supervised: pyBool(bool(info.IsSupervised) ?? false),
      install_date: kandjiSpaced(d.lastEnrollmentAt ?? d.lastMdmCheckinAt),
      last_check_in: kandjiSpaced(d.lastMdmCheckinAt),
      mdm_enabled_user: [],
    },
    activation_lock: {
      bypass_code_failed: false,
      user_activation_lock_enabled: false,
      device_activation_lock_enabled: bool(info.IsActivationLockEnabled) ?? false,
      activation_lock_allowed_while_supervised: false,
      activation_lock_supported: d.platform === 'Mac',
    },
    filevault: {
      filevault_enabled: fileVault ?? false,
      filevault_recoverykey_type: fileVault ? (security.FDE_HasInstitutionalRecoveryKey === true ? 'Institutional' : 'Personal') : '',
      filevault_prk_escrowed: false,
      filevault_next_rotation: '',
      filevault_regen_required: false,
    },
    // Enrolled by profile, never through Automated Device Enrollment.
    automated_device_enrollment: {},
    kandji_agent: {
      agent_installed: pyBool(d.agentInstalled === true),
      install_date: d.agentInstalledAt === undefined ? '' : kandjiIsoZ(d.agentInstalledAt),
      last_check_in: d.lastAgentCheckinAt === undefined ? '' : kandjiIsoZ(d.lastAgentCheckinAt),
      agent_version: d.agentVersion ?? '',
    },
    hardware_overview: {
      model_name: str(info.ModelName) ?? e.modelName ?? '',
      model_identifier: d.modelIdentifier ?? '',
      processor_name: processorName(d, bool(info.IsAppleSilicon)),
      processor_speed: '',
      number_of_processors: '',
      total_number_of_cores: '',
      memory: '',
      udid: e.udid ?? e.id,
      serial_number: d.serialNumber,
    },
    volumes:
      capacityGb === undefined
        ? []
        : [
            {
              name: 'Macintosh HD',
              format: 'APFS',
              // No percentage of nothing: a capacity of 0 (or less) reported gives none, not NaN% or -Infinity%.
              percent_used: availableGb === undefined || !(capacityGb > 0) ? '' : `${Math.round((1 - availableGb / capacityGb) * 100)}%`,
              identifier: 'disk3s1',
              capacity: `${(capacityGb).toFixed(2)} GB`,
              available: availableGb === undefined ? '' : `${availableGb.toFixed(2)} GB`,
              encrypted: fileVault ? 'Yes' : 'No',
              capacity_bytes: Math.round(capacityGb * GB),
            },
          ],
    network: {
      local_hostname: str(info.LocalHostName) ?? '',
      mac_address: str(info.WiFiMAC) ?? str(info.EthernetMAC) ?? '',
      ip_address: '',
      public_ip: '',
    },
    recovery_information: {
      recovery_lock_enabled: false,
      firmware_password_exist: firmware.PasswordExists === true,
      firmware_password_pending: firmware.ChangePending === true,
      password_rotation_scheduled: null,
    },
    users: {
      regular_users: users.map((u) => ({
        username: str(u.UserName) ?? '',
        uid: num(u.UID) ?? null,
        path: `/Users/${str(u.UserName) ?? ''}`,
        name: str(u.FullName) ?? '',
        is_admin: false,
        has_secure_token: u.HasSecureToken === true,
      })),
      system_users: [],
    },
    installed_profiles: listOf(r.ProfileList?.ProfileList).map((p) => ({
      name: str(p.PayloadDisplayName) ?? str(p.PayloadIdentifier) ?? '',
      uuid: str(p.PayloadUUID) ?? '',
      verified: 'verified',
      identifier: str(p.PayloadIdentifier) ?? '',
      organization: str(p.PayloadOrganization) ?? '',
      payload_types: listOf(p.PayloadContent).map((c) => str(c.PayloadType) ?? ''),
      install_date: '',
    })),
    apple_business_manager: {},
    security_information: {
      remote_desktop_enabled: false,
      sip_enabled: bool(security.SystemIntegrityProtectionEnabled) ?? bool(info.SystemIntegrityProtectionEnabled) ?? null,
      firewall_enabled: bool(firewall.FirewallEnabled) ?? null,
      secure_boot_level: str(dictOf(security.SecureBoot).SecureBootLevel) ?? '',
      external_boot_level: str(dictOf(security.SecureBoot).ExternalBootLevel) ?? '',
      user_approved_enrollment: bool(management.UserApprovedEnrollment) ?? null,
      enrolled_via_dep: bool(management.EnrolledViaDEP) ?? false,
    },
    lost_mode: {},
    tags: [],
  };
}
