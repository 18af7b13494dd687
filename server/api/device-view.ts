/**
 * The Kandji-compatible API's view of a device, made from one enrollment. /api/v1/devices and
 * Prism both read devices only through this file, so the two always agree on every fact.
 *
 * - `deviceId`: a name-based (version 5) UUID of the enrollment id, so it is stable for the Mac:
 *   a wiped Mac that enrolls again (same UDID) keeps its device_id. findApiDevice maps it back
 *   through an index kept per store, not a scan per request.
 * - `agentInstalled`: true once the agent has been installed (an Acknowledged
 *   InstallEnterpriseApplication or an agent check-in) and until the server learns it is gone
 *   (an MDM InstalledApplicationList without the agent: agentGoneAt) or the device is deleted
 *   through the API. null for platforms that run no agent. Freshness is separate:
 *   lastAgentCheckinAt.
 * - `isMissing`: no check-in of any kind (MDM or agent) for `missingAfterMs`.
 */
import { createHash } from 'node:crypto';
import modelsFile from '../../fixtures/macs/models.json';
import type { KandjiPlatform } from '../../protocol/kandji';
import { agentKnownInstalled } from '../policy/agent-presence';
import type { EnrollmentRecord, Storage } from '../storage/types';

export interface ApiDevice {
  /** UUID (lower case), stable for the device. */
  deviceId: string;
  /** The UDID (the storage key). */
  enrollmentId: string;
  name: string;
  /** Marketing name, e.g. "MacBook Air (M1, 2020)"; what the device reported when the model is not in fixtures/macs. */
  model: string;
  modelIdentifier?: string;
  serialNumber: string;
  platform: KandjiPlatform;
  osVersion: string;
  buildVersion?: string;
  /** The MDM channel is enrolled (TokenUpdate seen, no CheckOut since). */
  mdmEnabled: boolean;
  /** The last MDM check-in or connect (always known: the Authenticate counts). */
  lastMdmCheckinAt: number;
  lastAgentCheckinAt?: number;
  /** See the file comment; null where no agent exists for the platform. */
  agentInstalled: boolean | null;
  agentVersion?: string;
  /** When the running agent was installed: as the agent said, else when its install was acknowledged. */
  agentInstalledAt?: number;
  /**
   * The first enrollment of this Mac ever, and the current one (its Authenticate while a
   * re-enrollment is under way). apiDeviceOf always sets both.
   */
  firstEnrollmentAt?: number;
  lastEnrollmentAt?: number;
  /** The later of the MDM and the agent check-in: Prism's `last_checkin`, and what `is_missing` counts from. */
  lastCheckinAt: number;
  isMissing: boolean;
  /** Deleted through DELETE /api/v1/devices/{device_id}. */
  isRemoved: boolean;
}

export interface DeviceViewSettings {
  /** `is_missing` after this long without any check-in (ms); AgentPolicySettings.missingAfter. */
  missingAfterMs: number;
}

// ---- device_id ----------------------------------------------------------------------------

/** Namespace of mdmsim's device ids (a random UUID fixed once; only the derivation matters). */
const DEVICE_ID_NAMESPACE = Buffer.from('6f1d2c3a5b8e4f7a9c0d1e2f3a4b5c6d', 'hex');

/** RFC 4122 version 5 (SHA-1, name-based) UUID of the enrollment id. */
export function deviceIdFor(enrollmentId: string): string {
  const hash = createHash('sha1').update(DEVICE_ID_NAMESPACE).update(enrollmentId, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.toString('hex', 0, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

interface DeviceIdIndex {
  /** device_id → enrollment id. */
  byDeviceId: Map<string, string>;
  /** enrollment id → device_id: a SHA-1 per device per page would cost more than the page. */
  byEnrollment: Map<string, string>;
}

// Enrollments are never deleted from storage (an API delete only marks them), so an index
// only ever grows; one per store, dropped with it.
const indexes = new WeakMap<Storage, DeviceIdIndex>();

function indexOf(store: Storage): DeviceIdIndex {
  let index = indexes.get(store);
  if (!index) indexes.set(store, (index = { byDeviceId: new Map(), byEnrollment: new Map() }));
  return index;
}

/** The device_id of an enrollment, from the store's index (computed once per device). */
export function deviceIdOf(store: Storage, enrollmentId: string): string {
  const index = indexOf(store);
  let id = index.byEnrollment.get(enrollmentId);
  if (id === undefined) {
    id = deviceIdFor(enrollmentId);
    index.byEnrollment.set(enrollmentId, id);
    index.byDeviceId.set(id, enrollmentId);
  }
  return id;
}

/**
 * The enrollment a device_id names, or undefined. A miss brings the index up to date with the
 * store only when the store holds enrollments the index has not seen, so an unknown id costs a
 * count, and each enrollment is hashed once in the store's life.
 */
export function findApiDevice(store: Storage, deviceId: string): Readonly<EnrollmentRecord> | undefined {
  const index = indexOf(store);
  let enrollmentId = index.byDeviceId.get(deviceId.toLowerCase());
  if (enrollmentId === undefined && store.countEnrollments() > index.byEnrollment.size) {
    for (const e of store.listEnrollments()) deviceIdOf(store, e.id);
    enrollmentId = index.byDeviceId.get(deviceId.toLowerCase());
  }
  if (enrollmentId === undefined) return undefined;
  const e = store.getEnrollment(enrollmentId);
  return e && isApiDevice(e) ? e : undefined;
}

/**
 * Whether the API shows the enrollment: it has enrolled at least once (an Authenticate alone
 * is not a device yet) and runs a platform Kandji lists.
 */
export function isApiDevice(e: Readonly<EnrollmentRecord>): boolean {
  return e.firstEnrolledAt !== undefined && kandjiPlatformOf(e) !== undefined;
}

// ---- the view -----------------------------------------------------------------------------

const MARKETING_NAMES: ReadonlyMap<string, string> = new Map(modelsFile.models.map((m) => [m.model, m.marketingName]));

/** "MacBook Air (M1, 2020)" for MacBookAir10,1; undefined for a model fixtures/macs does not know. */
export function marketingName(modelIdentifier: string | undefined): string | undefined {
  return modelIdentifier === undefined ? undefined : MARKETING_NAMES.get(modelIdentifier);
}

/**
 * Kandji's platform name for an enrollment; undefined for platforms Kandji does not list
 * (watchOS, visionOS), which the API leaves out. A device that did not say (a hand-made
 * Authenticate without model facts) counts as a Mac, mdmsim's default.
 */
export function kandjiPlatformOf(e: Readonly<EnrollmentRecord>): KandjiPlatform | undefined {
  switch (e.platform) {
    case 'macOS':
    case undefined:
      return 'Mac';
    case 'iOS':
      return /^iPad/.test(e.productName ?? e.model ?? '') ? 'iPad' : 'iPhone';
    case 'tvOS':
      return 'AppleTV';
    default:
      return undefined;
  }
}

/** See the file comment. */
export function agentInstalledOf(e: Readonly<EnrollmentRecord>): boolean | null {
  return kandjiPlatformOf(e) === 'Mac' ? agentKnownInstalled(e) : null;
}

/** One enrollment as the API shows it at `now`. Cheap: no I/O and one hash per device in the store's life. */
export function apiDeviceOf(e: Readonly<EnrollmentRecord>, now: number, settings: DeviceViewSettings, store?: Storage): ApiDevice {
  const modelIdentifier = e.productName ?? e.model;
  const agentAt = e.agentLastCheckinAt;
  const lastCheckinAt = agentAt !== undefined && agentAt > e.lastSeenAt ? agentAt : e.lastSeenAt;
  const agentInstalled = agentInstalledOf(e);
  return {
    deviceId: store ? deviceIdOf(store, e.id) : deviceIdFor(e.id),
    enrollmentId: e.id,
    name: e.deviceName ?? '',
    model: marketingName(modelIdentifier) ?? e.modelName ?? modelIdentifier ?? '',
    modelIdentifier,
    serialNumber: e.serialNumber ?? '',
    platform: kandjiPlatformOf(e) ?? 'Mac',
    osVersion: e.osVersion ?? '',
    buildVersion: e.buildVersion,
    mdmEnabled: e.enabled,
    lastMdmCheckinAt: e.lastSeenAt,
    lastAgentCheckinAt: agentAt,
    agentInstalled,
    // The version of an agent that is gone is no longer a fact about the device.
    agentVersion: agentInstalled ? e.agentVersion : undefined,
    agentInstalledAt: agentInstalled ? (e.agentInstalledAt ?? e.agentInstallAcknowledgedAt) : undefined,
    firstEnrollmentAt: e.firstEnrolledAt ?? e.enrolledAt ?? e.authenticatedAt,
    lastEnrollmentAt: e.enrolledAt ?? e.authenticatedAt,
    lastCheckinAt,
    isMissing: now - lastCheckinAt >= settings.missingAfterMs,
    isRemoved: e.removedAt !== undefined,
  };
}

/**
 * Every device the API shows (isApiDevice), in storage order: one pass, one small
 * object per device (a few milliseconds at 10,000 devices).
 */
export function apiDevices(store: Storage, now: number, settings: DeviceViewSettings): ApiDevice[] {
  const out: ApiDevice[] = [];
  for (const e of store.listEnrollments()) {
    if (!isApiDevice(e)) continue;
    out.push(apiDeviceOf(e, now, settings, store));
  }
  return out;
}

/** The view settings from the server's agent policy (where `--missing-after` lands). */
export function viewSettingsOf(agentPolicy: { settings: { missingAfter: number } }): DeviceViewSettings {
  return { missingAfterMs: agentPolicy.settings.missingAfter };
}
