/**
 * ProfileList, InstallProfile and RemoveProfile, over MacState.profiles (by top-level
 * PayloadIdentifier) and the certificates their payloads carry.
 */
import { X509Certificate } from 'node:crypto';
import { CmsError, parseSignedData } from '../../protocol/cms';
import { openPkcs12, Pkcs12Error } from '../../protocol/pkcs12';
import type { CommandPayload } from '../../protocol/command';
import { parsePlist, PlistError } from '../../protocol/plist';
import { isPlistDict, type PlistDict, type PlistValue } from '../../protocol/plist/types';
import type { ErrorChainItem } from '../../protocol/result';
import type { CommandContext, HandlerOutcome, InstalledCertificate, InstalledProfile, MacState } from '../state';
import * as errors from './errors';
import { osAtLeast } from './facts';
import { acknowledged, failure } from './outcome';

/** The payload type of the MDM enrollment payload. */
export const MDM_PAYLOAD_TYPE = 'com.apple.mdm';

/** Payload types whose PayloadContent is one certificate (DER, or PEM for .pem). */
const CERTIFICATE_PAYLOADS = new Set(['com.apple.security.root', 'com.apple.security.pkcs1', 'com.apple.security.pem']);

function payloadsOf(profile: PlistDict): PlistDict[] {
  const content = profile.PayloadContent;
  return Array.isArray(content) ? content.filter(isPlistDict) : [];
}

/** The profile that holds the com.apple.mdm payload: the MDM enrollment profile. */
export function isEnrollmentProfile(profile: InstalledProfile): boolean {
  return payloadsOf(profile.content).some((p) => p.PayloadType === MDM_PAYLOAD_TYPE);
}

/** Whether the Mac still holds an enrollment profile (after a RemoveProfile it may not). */
export function hasEnrollmentProfile(mac: MacState): boolean {
  for (const p of mac.profiles.values()) if (isEnrollmentProfile(p)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------
// ProfileList

function profileListItem(mac: MacState, p: InstalledProfile): PlistDict {
  const item: PlistDict = { PayloadIdentifier: p.PayloadIdentifier, PayloadUUID: p.PayloadUUID, PayloadVersion: p.PayloadVersion };
  if (p.PayloadDisplayName !== undefined) item.PayloadDisplayName = p.PayloadDisplayName;
  if (p.PayloadOrganization !== undefined) item.PayloadOrganization = p.PayloadOrganization;
  if (p.PayloadDescription !== undefined) item.PayloadDescription = p.PayloadDescription;
  item.PayloadRemovalDisallowed = p.PayloadRemovalDisallowed === true;
  item.HasRemovalPasscode = false;
  item.IsEncrypted = false;
  // PayloadContent items carry their PayloadUUID from macOS 14 (schema: introduced 14.0,
  // presence required).
  const withUuid = osAtLeast(mac, '14.0');
  item.PayloadContent = payloadsOf(p.content).map((payload) => {
    const out: PlistDict = {
      PayloadType: String(payload.PayloadType ?? ''),
      PayloadVersion: typeof payload.PayloadVersion === 'number' ? payload.PayloadVersion : 1,
      PayloadIdentifier: String(payload.PayloadIdentifier ?? ''),
    };
    if (withUuid) out.PayloadUUID = String(payload.PayloadUUID ?? '');
    for (const k of ['PayloadDisplayName', 'PayloadDescription', 'PayloadOrganization'] as const) {
      if (typeof payload[k] === 'string') out[k] = payload[k];
    }
    return out;
  });
  return item;
}

export function profileList(command: CommandPayload, ctx: CommandContext): HandlerOutcome {
  // ManagedOnly exists from macOS 10.15 (schema); an older Mac ignores it.
  const managedOnly = command.ManagedOnly === true && osAtLeast(ctx.mac, '10.15');
  const list: PlistValue[] = [];
  for (const p of ctx.mac.profiles.values()) {
    if (managedOnly && !p.managed) continue;
    list.push(profileListItem(ctx.mac, p));
  }
  return acknowledged({ ProfileList: list });
}

// ---------------------------------------------------------------------------------------
// InstallProfile

const TOP_LEVEL_STRINGS = ['PayloadIdentifier', 'PayloadUUID'] as const;
const OPTIONAL_STRINGS = ['PayloadDisplayName', 'PayloadDescription', 'PayloadOrganization'] as const;

/** The profile dictionary inside a Payload: plain plist, or the content of a CMS SignedData. */
function unwrap(payload: Buffer): PlistDict | ErrorChainItem[] {
  let bytes = payload;
  // A DER SEQUENCE: a signed profile (a plist starts with '<' or 'bplist').
  if (bytes[0] === 0x30) {
    try {
      const signed = parseSignedData(bytes);
      if (!signed.content) return errors.badProfileSignature('the signature holds no content (a detached signature cannot carry a profile)');
      bytes = signed.content;
    } catch (err) {
      if (err instanceof CmsError) return errors.badProfileSignature(err.message);
      throw err;
    }
  }
  let value: PlistValue;
  try {
    value = parsePlist(bytes);
  } catch (err) {
    if (err instanceof PlistError) return errors.invalidProfile(`not a property list (${err.message})`);
    throw err;
  }
  if (!isPlistDict(value)) return errors.invalidProfile('the profile is not a dictionary');
  return value;
}

/**
 * Checks a profile the way the common payload keys require (mdm_profiles_CommonPayloadKeys:
 * PayloadIdentifier, PayloadUUID, PayloadType and PayloadVersion required on the profile and
 * on each payload); returns a reason when it is not installable.
 */
function problemWith(profile: PlistDict): string | undefined {
  if (profile.PayloadType !== 'Configuration') return `PayloadType must be Configuration, got ${JSON.stringify(profile.PayloadType ?? null)}`;
  for (const k of TOP_LEVEL_STRINGS) {
    if (typeof profile[k] !== 'string' || profile[k] === '') return `${k} must be a non-empty string`;
  }
  if (typeof profile.PayloadVersion !== 'number' || !Number.isInteger(profile.PayloadVersion)) return 'PayloadVersion must be an integer';
  for (const k of OPTIONAL_STRINGS) {
    if (profile[k] !== undefined && typeof profile[k] !== 'string') return `${k} must be a string`;
  }
  if (profile.PayloadRemovalDisallowed !== undefined && typeof profile.PayloadRemovalDisallowed !== 'boolean') return 'PayloadRemovalDisallowed must be a boolean';
  const content = profile.PayloadContent;
  if (content === undefined) return undefined;
  if (!Array.isArray(content)) return 'PayloadContent must be an array';
  const uuids = new Set<string>([profile.PayloadUUID as string]);
  for (let i = 0; i < content.length; i++) {
    const p = content[i];
    if (!isPlistDict(p)) return `PayloadContent[${i}] must be a dictionary`;
    for (const k of ['PayloadType', 'PayloadIdentifier', 'PayloadUUID'] as const) {
      if (typeof p[k] !== 'string' || p[k] === '') return `PayloadContent[${i}].${k} must be a non-empty string`;
    }
    if (typeof p.PayloadVersion !== 'number' || !Number.isInteger(p.PayloadVersion)) return `PayloadContent[${i}].PayloadVersion must be an integer`;
    // MCProfileErrorDomain 1007 "Non-unique UUIDs" exists for this; we fold it into 1000.
    if (uuids.has(p.PayloadUUID as string)) return `PayloadUUID ${p.PayloadUUID as string} is used twice`;
    uuids.add(p.PayloadUUID as string);
  }
  return undefined;
}

function pemToDer(pem: Buffer): Buffer | undefined {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem.toString('latin1'));
  return m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') : undefined;
}

function commonName(cert: X509Certificate): string {
  // X509Certificate.subject is one attribute per line, e.g. "O=mdmsim\nCN=mdmsim CA".
  const cn = cert.subject.split('\n').find((line) => line.startsWith('CN='));
  return cn ? cn.slice(3) : cert.subject.replace(/\n/g, ', ');
}

const PKCS12_PAYLOAD = 'com.apple.security.pkcs12';

function identityOf(id: string, data: Buffer, password: PlistValue | undefined): InstalledCertificate | ErrorChainItem[] {
  try {
    const opened = openPkcs12(data, typeof password === 'string' ? password : '');
    return { commonName: commonName(new X509Certificate(opened.certDer)), der: opened.certDer, isIdentity: true, managed: true };
  } catch (err) {
    if (err instanceof Pkcs12Error) return err.code === 'bad-password' ? errors.pkcs12BadPassword(id) : errors.malformedCertificate(id, err.message);
    throw err;
  }
}

/** The certificates a profile's certificate and identity payloads install, or why one is bad. */
function certificatesOf(profile: PlistDict): InstalledCertificate[] | ErrorChainItem[] {
  const out: InstalledCertificate[] = [];
  for (const payload of payloadsOf(profile)) {
    const type = payload.PayloadType;
    if (typeof type !== 'string' || !(CERTIFICATE_PAYLOADS.has(type) || type === PKCS12_PAYLOAD)) continue;
    const id = String(payload.PayloadIdentifier);
    const data = payload.PayloadContent;
    if (!Buffer.isBuffer(data)) return errors.malformedCertificate(id, 'PayloadContent must be <data>');
    if (type === PKCS12_PAYLOAD) {
      const identity = identityOf(id, data, payload.Password);
      if (Array.isArray(identity)) return identity;
      out.push(identity);
      continue;
    }
    const der = type === 'com.apple.security.pem' ? pemToDer(data) : data;
    if (!der) return errors.malformedCertificate(id, 'no PEM certificate in PayloadContent');
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch (err) {
      return errors.malformedCertificate(id, err instanceof Error ? err.message : String(err));
    }
    out.push({ commonName: commonName(cert), der: Buffer.from(cert.raw), isIdentity: false, managed: true });
  }
  return out;
}

function isErrorChain(x: InstalledCertificate[] | ErrorChainItem[]): x is ErrorChainItem[] {
  return x.length > 0 && 'ErrorCode' in x[0]!;
}

/** Removes the certificates a profile installed (one copy each: another profile may hold the same). */
function removeCertificatesOf(mac: MacState, profile: InstalledProfile): void {
  const held = certificatesOf(profile.content);
  if (isErrorChain(held)) return;
  for (const cert of held) {
    const i = mac.certificates.findIndex((c) => c.der.equals(cert.der));
    if (i >= 0) mac.certificates.splice(i, 1);
  }
}

export function installProfile(command: CommandPayload, ctx: CommandContext): HandlerOutcome {
  const payload = command.Payload;
  // The schema makes Payload required <data>; handleCommand has checked that already.
  if (!Buffer.isBuffer(payload)) return failure(errors.invalidProfile('Payload must be <data>'));
  const profile = unwrap(payload);
  if (Array.isArray(profile)) return failure(profile);
  const problem = problemWith(profile);
  if (problem) return failure(errors.invalidProfile(problem));
  const identifier = profile.PayloadIdentifier as string;
  // A profile encrypted to the device identity: the simulation has no key to open it.
  if (profile.EncryptedPayloadContent !== undefined) return failure(errors.cannotDecryptProfile(identifier));

  const existing = ctx.mac.profiles.get(identifier);
  if (existing && !existing.managed) return failure(errors.profileNotInstalledByMdm(identifier));

  const certificates = certificatesOf(profile);
  if (isErrorChain(certificates)) return failure(certificates);

  if (existing) removeCertificatesOf(ctx.mac, existing);
  const installed: InstalledProfile = {
    PayloadIdentifier: identifier,
    PayloadUUID: profile.PayloadUUID as string,
    PayloadVersion: profile.PayloadVersion as number,
    managed: true,
    content: profile,
    installedAt: ctx.clock.now(),
  };
  for (const k of OPTIONAL_STRINGS) if (typeof profile[k] === 'string') installed[k] = profile[k];
  if (typeof profile.PayloadRemovalDisallowed === 'boolean') installed.PayloadRemovalDisallowed = profile.PayloadRemovalDisallowed;
  ctx.mac.profiles.set(identifier, installed);
  ctx.mac.certificates.push(...certificates);
  return acknowledged();
}

// ---------------------------------------------------------------------------------------
// RemoveProfile

/**
 * Removes a profile the MDM server installed. Removing the enrollment profile is allowed:
 * "An MDM server can always remove this profile, even if it does not have the access rights
 * to add or remove configuration profiles" (MDM Protocol Reference, "Terminating a
 * Management Relationship"); the Mac then leaves management (hasEnrollmentProfile turns
 * false, and the MDM client checks out as CheckOutWhenRemoved asks).
 *
 * A profile the server did not install is, as far as the MDM client is concerned, not
 * there: answered like an unknown identifier (MDMClientError 89), which is our reading of
 * mdmclient's behaviour rather than a captured answer.
 */
export function removeProfile(command: CommandPayload, ctx: CommandContext): HandlerOutcome {
  const identifier = command.Identifier;
  if (typeof identifier !== 'string') return failure(errors.profileNotFound(String(identifier)));
  const profile = ctx.mac.profiles.get(identifier);
  if (!profile || !profile.managed) return failure(errors.profileNotFound(identifier));
  ctx.mac.profiles.delete(identifier);
  removeCertificatesOf(ctx.mac, profile);
  if (isEnrollmentProfile(profile)) {
    // Everything the enrollment brought goes with it: the profiles the server installed and
    // their certificates, the MDM identity included ("When a user removes an enrollment
    // profile, all configuration profiles, their settings, and Managed Apps based on that
    // enrollment profile are removed with it", Apple Platform Deployment).
    for (const [id, p] of ctx.mac.profiles) if (p.managed) ctx.mac.profiles.delete(id);
    ctx.mac.certificates = ctx.mac.certificates.filter((c) => !c.managed);
  }
  return acknowledged();
}
