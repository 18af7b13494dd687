/**
 * Which enrollment profile the server served each identity, so it can say what a Mac installed
 * (GET /sim/v1/devices/{udid}/profiles): a Mac's identity certificate, bound at Authenticate,
 * names the download it came from. A profile is rebuilt from what was recorded when it was issued
 * (its URLs, topic and PayloadUUIDs; the PKCS#12 and its password are not kept), first from a
 * bounded map of recent issues, then from the `enroll.profile` events, which a durable store keeps
 * across restarts.
 */
import type { EventLog } from '../service/event-log';
import type { EnrollmentProfileUuids } from './profile';

export interface IssuedProfileRecord {
  identityCertSha256: string;
  /** The identity certificate's subject CN. */
  identityCommonName?: string;
  /** Clock time of the download. */
  issuedAt: number;
  serverURL: string;
  checkInURL: string;
  topic: string;
  uuids: EnrollmentProfileUuids;
}

/** Recent issues kept in memory; older ones are found in the event log. */
export const DEFAULT_ISSUED_PROFILES_KEPT = 10_000;

export class IssuedProfiles {
  private readonly recent = new Map<string, IssuedProfileRecord>();

  constructor(
    private readonly events: EventLog,
    private readonly kept = DEFAULT_ISSUED_PROFILES_KEPT,
  ) {}

  remember(record: IssuedProfileRecord): void {
    this.recent.set(record.identityCertSha256, record);
    // A Map iterates oldest first.
    if (this.recent.size > this.kept) this.recent.delete(this.recent.keys().next().value!);
  }

  /** The profile that carried this identity, if this server issued it and still knows. */
  find(identityCertSha256: string): IssuedProfileRecord | undefined {
    const hit = this.recent.get(identityCertSha256);
    if (hit) return hit;
    // A rare operator question: reading the profile events is affordable, newest last.
    const events = this.events.query({ types: ['enroll.profile'], limit: Number.MAX_SAFE_INTEGER });
    for (let i = events.length - 1; i >= 0; i--) {
      const record = recordOf(events[i]!.data, events[i]!.at);
      if (record?.identityCertSha256 === identityCertSha256) return record;
    }
    return undefined;
  }
}

/** The event data an issue records (see EnrollmentService), read back; undefined for older events without it. */
export function recordOf(data: Record<string, unknown> | undefined, at: number): IssuedProfileRecord | undefined {
  if (!data) return undefined;
  const { identityCertSha256, identityCommonName, serverURL, checkInURL, topic, payloadUUIDs } = data as Record<string, unknown>;
  const uuids = payloadUUIDs as Partial<EnrollmentProfileUuids> | undefined;
  if (typeof identityCertSha256 !== 'string' || typeof serverURL !== 'string' || typeof checkInURL !== 'string' || typeof topic !== 'string') return undefined;
  if (!uuids || typeof uuids.profile !== 'string' || typeof uuids.ca !== 'string' || typeof uuids.identity !== 'string' || typeof uuids.mdm !== 'string') return undefined;
  return {
    identityCertSha256,
    ...(typeof identityCommonName === 'string' ? { identityCommonName } : {}),
    issuedAt: at,
    serverURL,
    checkInURL,
    topic,
    uuids: { profile: uuids.profile, ca: uuids.ca, identity: uuids.identity, mdm: uuids.mdm },
  };
}
