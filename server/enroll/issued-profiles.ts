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

/** The first look back from the identity's Authenticate; each further window is twice as long. */
const FIRST_WINDOW_MS = 60_000;

export class IssuedProfiles {
  private readonly recent = new Map<string, IssuedProfileRecord>();
  /** Identities the event log was searched for in vain: none can be issued later (each is new). */
  private readonly missing = new Set<string>();

  constructor(
    private readonly events: EventLog,
    private readonly kept = DEFAULT_ISSUED_PROFILES_KEPT,
  ) {}

  remember(record: IssuedProfileRecord): void {
    this.missing.delete(record.identityCertSha256);
    this.recent.delete(record.identityCertSha256);
    this.recent.set(record.identityCertSha256, record);
    // A Map iterates oldest first.
    if (this.recent.size > this.kept) this.recent.delete(this.recent.keys().next().value!);
  }

  /**
   * The profile that carried this identity, if this server issued it and still knows.
   * `issuedBy`: a time the profile was issued at or before (the Authenticate that bound the
   * identity), so the event log is searched backwards from there, not read whole.
   */
  find(identityCertSha256: string, issuedBy?: number): IssuedProfileRecord | undefined {
    const hit = this.recent.get(identityCertSha256);
    if (hit) return hit;
    if (this.missing.has(identityCertSha256)) return undefined;
    const found = this.search(identityCertSha256, issuedBy);
    if (found) {
      // Asked about once, likely again (each profiles request): back among the recent.
      this.remember(found);
    } else {
      if (this.missing.size >= this.kept) this.missing.delete(this.missing.values().next().value!);
      this.missing.add(identityCertSha256);
    }
    return found;
  }

  /**
   * The issue's `enroll.profile` event, read in windows going back in time from `issuedBy`, each
   * twice the last: a Mac installs its profile soon after the download, so the first window or
   * two find it, and a miss costs one pass over the log, after which `missing` remembers it.
   */
  private search(identityCertSha256: string, issuedBy: number | undefined): IssuedProfileRecord | undefined {
    const oldest = this.events.query({ limit: 1 })[0]?.at;
    if (oldest === undefined) return undefined;
    let until = issuedBy ?? Number.MAX_SAFE_INTEGER;
    let window = FIRST_WINDOW_MS;
    for (;;) {
      // Unbounded back to the oldest event once the window reaches it (or with no hint at all).
      const since = issuedBy === undefined || until - window <= oldest ? undefined : until - window;
      const events = this.events.query({ types: ['enroll.profile'], since, until, limit: Number.MAX_SAFE_INTEGER });
      for (let i = events.length - 1; i >= 0; i--) {
        const record = recordOf(events[i]!.data, events[i]!.at);
        if (record?.identityCertSha256 === identityCertSha256) return record;
      }
      if (since === undefined) return undefined;
      // The next window ends where this one began (an event at `since` is read twice, harmlessly).
      until = since;
      window *= 2;
    }
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
