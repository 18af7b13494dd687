/**
 * What a Mac has installed, as the server knows it: the enrollment profile it served the identity
 * the Mac authenticated with, then every InstallProfile and RemoveProfile the Mac acknowledged
 * since, in order (a profile replaces one with the same PayloadIdentifier, as on a Mac). Answers
 * GET /sim/v1/devices/{udid}/profiles; `mdmsim device <udid> profiles` prints it.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { CmsError, parseSignedData } from '../../protocol/cms';
import { profileJson, type DeviceProfilesJson, type InstalledProfileJson, type MdmEnrollmentJson } from '../../protocol/installed-profiles';
import { openPkcs12 } from '../../protocol/pkcs12';
import { parsePlist } from '../../protocol/plist';
import { isPlistDict, type PlistDict, type PlistValue } from '../../protocol/plist/types';
import { problem } from '../../protocol/problem';
import type { IssuedProfileRecord, IssuedProfiles } from '../enroll/issued-profiles';
import { buildEnrollmentProfile } from '../enroll/profile';
import type { EnrollmentRecord, Storage } from '../storage/types';

export interface DeviceProfilesDeps {
  store: Storage;
  issued: IssuedProfiles;
  /** The CA the enrollment profiles carry (DER). */
  caCertDer: () => Buffer;
}

const iso = (t: number) => new Date(t).toISOString();

export function deviceProfiles(deps: DeviceProfilesDeps, udid: string): DeviceProfilesJson {
  const e = deps.store.getEnrollment(udid);
  if (!e) throw problem(404, 'unknown-enrollment', `no enrollment ${udid}`, { hint: 'GET /sim/v1/devices lists them' });
  const notes: string[] = [];
  // A CheckOut (the Mac removed its MDM profile) takes every MDM-installed profile with it.
  if (!e.enabled && e.tokenUpdateTally > 0) {
    notes.push('the Mac checked out (it removed its MDM profile, and with it every profile MDM installed)');
    return { udid, profiles: [], mdm: null, notes };
  }
  const installed = new Map<string, InstalledProfileJson>();
  const identities = new Map<string, MdmEnrollmentJson['identity']>();

  // Issued before the Authenticate that bound it: the search starts there.
  const record = e.identityCertSha256 === undefined ? undefined : deps.issued.find(e.identityCertSha256, e.authenticatedAt);
  if (record) {
    const p = enrollmentProfileJson(record, deps.caCertDer(), e);
    installed.set(p.identifier, p);
    identities.set(p.identifier, { sha256: record.identityCertSha256, ...(record.identityCommonName ? { commonName: record.identityCommonName } : {}) });
  } else if (e.identityCertSha256 === undefined) {
    notes.push('this server does not check Mdm-Signature (--auth none), so it cannot tell which enrollment profile the Mac installed');
  } else {
    notes.push(`the enrollment profile with identity ${e.identityCertSha256} was not issued by this server, or its record is gone (the event log keeps a limited number of events)`);
  }

  // Only this enrollment's answers: an Authenticate starts over (an erased Mac has no profiles).
  for (const r of deps.store.listResults({ id: udid })) {
    if (r.status !== 'Acknowledged' || r.at < e.authenticatedAt) continue;
    if (r.requestType !== 'InstallProfile' && r.requestType !== 'RemoveProfile') continue;
    const command = commandBody(deps.store, r.commandUUID);
    if (!command) continue;
    if (r.requestType === 'RemoveProfile') {
      if (typeof command.Identifier === 'string') installed.delete(command.Identifier);
      continue;
    }
    const opened = Buffer.isBuffer(command.Payload) ? openProfile(command.Payload) : undefined;
    if (!opened) continue;
    const p = profileJson(opened.profile, { installedAt: iso(r.at), installedBy: 'InstallProfile', commandUUID: r.commandUUID, verificationState: opened.signed ? 'Verified' : 'Unsigned' });
    installed.delete(p.identifier);
    installed.set(p.identifier, p);
    const identity = mdmIdentityOf(opened.profile);
    if (identity) identities.set(p.identifier, identity);
  }

  const profiles = [...installed.values()];
  return { udid, profiles, mdm: mdmOf(profiles, identities), notes };
}

/** The enrollment profile as it was served (rebuilt from its record; the PKCS#12 and its password were not kept). */
function enrollmentProfileJson(record: IssuedProfileRecord, caCertDer: Buffer, e: Readonly<EnrollmentRecord>): InstalledProfileJson {
  const { profile } = buildEnrollmentProfile({
    baseUrl: record.serverURL.replace(/\/mdm\/connect$/, ''),
    topic: record.topic,
    caCertDer,
    pkcs12: Buffer.alloc(0),
    password: '',
    uuids: record.uuids,
  });
  const json = profileJson(profile, { installedAt: iso(e.authenticatedAt), installedBy: 'enrollment', verificationState: 'Verified' });
  for (const payload of json.payloads) {
    if (payload.type === 'com.apple.mdm') Object.assign(payload.data, { ServerURL: record.serverURL, CheckInURL: record.checkInURL });
    // Not kept: the identity is described by the mdm summary instead.
    if (payload.uuid === record.uuids.identity) delete payload.data.PayloadContent;
  }
  return json;
}

function commandBody(store: Storage, commandUUID: string): PlistDict | undefined {
  const stored = store.getCommand(commandUUID);
  if (!stored) return undefined;
  try {
    const value = parsePlist(stored.body);
    return isPlistDict(value) && isPlistDict(value.Command) ? value.Command : undefined;
  } catch {
    return undefined;
  }
}

/** The profile inside an InstallProfile Payload: a plist, or the content of a CMS SignedData. */
function openProfile(payload: Buffer): { profile: PlistDict; signed: boolean } | undefined {
  let bytes = payload;
  let signed = false;
  if (bytes[0] === 0x30) {
    try {
      const content = parseSignedData(bytes).content;
      if (!content) return undefined;
      bytes = content;
      signed = true;
    } catch (error) {
      if (error instanceof CmsError) return undefined;
      throw error;
    }
  }
  try {
    const value = parsePlist(bytes);
    return isPlistDict(value) ? { profile: value, signed } : undefined;
  } catch {
    return undefined;
  }
}

/** The identity a com.apple.mdm payload names, opened from the profile's PKCS#12 with its password. */
function mdmIdentityOf(profile: PlistDict): MdmEnrollmentJson['identity'] | undefined {
  const payloads = Array.isArray(profile.PayloadContent) ? profile.PayloadContent.filter(isPlistDict) : [];
  const mdm = payloads.find((p) => p.PayloadType === 'com.apple.mdm');
  const p12 = mdm && payloads.find((p) => p.PayloadUUID === mdm.IdentityCertificateUUID);
  if (!p12 || !Buffer.isBuffer(p12.PayloadContent) || typeof p12.Password !== 'string') return undefined;
  try {
    const { certDer } = openPkcs12(p12.PayloadContent, p12.Password);
    const cn = new X509Certificate(certDer).subject.split('\n').find((line) => line.startsWith('CN='));
    return { sha256: createHash('sha256').update(certDer).digest('hex'), ...(cn ? { commonName: cn.slice(3) } : {}) };
  } catch {
    return undefined;
  }
}

function mdmOf(profiles: InstalledProfileJson[], identities: Map<string, MdmEnrollmentJson['identity']>): MdmEnrollmentJson | null {
  for (const p of profiles) {
    const payload = p.payloads.find((x) => x.type === 'com.apple.mdm');
    if (!payload) continue;
    const d = payload.data as Record<string, PlistValue>;
    const out: MdmEnrollmentJson = {
      serverURL: String(d.ServerURL ?? ''),
      topic: String(d.Topic ?? ''),
      identityCertificateUUID: String(d.IdentityCertificateUUID ?? ''),
    };
    if (typeof d.CheckInURL === 'string') out.checkInURL = d.CheckInURL;
    const identity = identities.get(p.identifier);
    if (identity) out.identity = identity;
    return out;
  }
  return null;
}
