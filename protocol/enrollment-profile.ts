/**
 * The device side of enrollment: what a Mac checks and takes from a downloaded enrollment
 * profile before it installs it. The signature must verify (and, when the device is given
 * anchors, chain to one of them); the com.apple.mdm payload must be valid against Apple's
 * schema; its IdentityCertificateUUID must name a PKCS#12 payload that opens with its password.
 */
import * as crypto from 'node:crypto';
import { CmsError, findSignerCertificate, parseSignedData, verifySignature } from './cms';
import { Pkcs12Error, openPkcs12 } from './pkcs12';
import { parsePlist, PlistError } from './plist';
import { isPlistDict, type PlistDict, type PlistValue } from './plist/types';
import { validateProfilePayload, type ValidationContext } from './schema';

export type EnrollmentProfileErrorCode = 'bad-signature' | 'untrusted-signer' | 'malformed-profile' | 'invalid-mdm-payload' | 'bad-identity';

export class EnrollmentProfileError extends Error {
  constructor(
    message: string,
    readonly code: EnrollmentProfileErrorCode,
  ) {
    super(message);
    this.name = 'EnrollmentProfileError';
  }
}

/** The com.apple.mdm payload's settings, by their Apple names. */
export interface MdmPayload {
  ServerURL: string;
  CheckInURL?: string;
  Topic: string;
  IdentityCertificateUUID: string;
  SignMessage: boolean;
  AccessRights?: number;
  CheckOutWhenRemoved?: boolean;
  ServerCapabilities: string[];
}

export interface OpenedEnrollmentProfile {
  /** The profile plist (the signed content). */
  profile: PlistDict;
  mdm: MdmPayload;
  /** The identity the device signs its MDM requests with. */
  identity: { certDer: Buffer; privateKey: crypto.KeyObject };
  /** Certificates of the com.apple.security.root payloads (what the device will trust). */
  anchors: Buffer[];
  /** The certificate that signed the profile. */
  signerCertDer: Buffer;
}

export interface OpenEnrollmentProfileOptions {
  /** When given, the profile's signer must be issued by one of these (DER). */
  trustedCaCerts?: Buffer[];
  /** Which device checks the MDM payload (default macOS, no version). */
  context?: ValidationContext;
}

export function openEnrollmentProfile(signed: Buffer, options: OpenEnrollmentProfileOptions = {}): OpenedEnrollmentProfile {
  const { content, signerCertDer } = verifiedContent(signed, options.trustedCaCerts);
  const profile = parseProfile(content);
  const payloads = profile.PayloadContent as PlistValue[];
  const mdmPayloads = payloads.filter((p): p is PlistDict => isPlistDict(p) && p.PayloadType === 'com.apple.mdm');
  if (mdmPayloads.length !== 1) {
    throw new EnrollmentProfileError(`an enrollment profile holds exactly one com.apple.mdm payload; this one has ${mdmPayloads.length}`, 'malformed-profile');
  }
  const mdm = checkMdmPayload(mdmPayloads[0], options.context ?? { platform: 'macOS' });
  const identityPayload = payloads.find((p): p is PlistDict => isPlistDict(p) && p.PayloadUUID === mdm.IdentityCertificateUUID);
  if (!identityPayload || identityPayload.PayloadType !== 'com.apple.security.pkcs12') {
    throw new EnrollmentProfileError(
      `IdentityCertificateUUID ${mdm.IdentityCertificateUUID} names ${identityPayload ? `a ${String(identityPayload.PayloadType)} payload` : 'no payload in the profile'}; expected a com.apple.security.pkcs12 payload`,
      'malformed-profile',
    );
  }
  const identity = openIdentity(identityPayload);
  const anchors = payloads
    .filter((p): p is PlistDict => isPlistDict(p) && p.PayloadType === 'com.apple.security.root' && Buffer.isBuffer(p.PayloadContent))
    .map((p) => p.PayloadContent as Buffer);
  return { profile, mdm, identity, anchors, signerCertDer };
}

function verifiedContent(signed: Buffer, trusted: Buffer[] | undefined): { content: Buffer; signerCertDer: Buffer } {
  let parsed;
  try {
    parsed = parseSignedData(signed);
  } catch (error) {
    if (error instanceof CmsError) throw new EnrollmentProfileError(`the profile is not a readable CMS SignedData: ${error.message}`, 'bad-signature');
    throw error;
  }
  if (parsed.content === undefined) throw new EnrollmentProfileError('the signed profile does not carry its content (a detached signature)', 'bad-signature');
  const signerCertDer = findSignerCertificate(parsed);
  if (!signerCertDer) throw new EnrollmentProfileError('the profile signature does not include its signer certificate', 'bad-signature');
  let signer: crypto.X509Certificate;
  try {
    signer = new crypto.X509Certificate(signerCertDer);
  } catch (error) {
    throw new EnrollmentProfileError(`the profile signer certificate is unreadable: ${(error as Error).message}`, 'bad-signature');
  }
  if (!verifySignature(parsed, parsed.content, signer.publicKey)) {
    throw new EnrollmentProfileError('the profile signature does not match its content: it was altered after signing', 'bad-signature');
  }
  if (trusted && !trusted.some((der) => issuedBy(signer, der))) {
    throw new EnrollmentProfileError(`the profile is signed by ${signer.subject.replace(/\n/g, ', ')}, which none of the trusted CAs issued`, 'untrusted-signer');
  }
  return { content: parsed.content, signerCertDer };
}

function issuedBy(cert: crypto.X509Certificate, caDer: Buffer): boolean {
  const ca = new crypto.X509Certificate(caDer);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

function parseProfile(content: Buffer): PlistDict {
  let profile: PlistValue;
  try {
    profile = parsePlist(content);
  } catch (error) {
    if (error instanceof PlistError) throw new EnrollmentProfileError(`the signed content is not a property list: ${error.message}`, 'malformed-profile');
    throw error;
  }
  if (!isPlistDict(profile) || profile.PayloadType !== 'Configuration' || !Array.isArray(profile.PayloadContent)) {
    throw new EnrollmentProfileError('the signed content is not a configuration profile (PayloadType Configuration with a PayloadContent array)', 'malformed-profile');
  }
  return profile;
}

function checkMdmPayload(payload: PlistDict, context: ValidationContext): MdmPayload {
  const result = validateProfilePayload('com.apple.mdm', payload, context);
  if (!result.ok) {
    throw new EnrollmentProfileError(`the com.apple.mdm payload is not valid: ${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, 'invalid-mdm-payload');
  }
  return {
    ServerURL: payload.ServerURL as string,
    CheckInURL: payload.CheckInURL as string | undefined,
    Topic: payload.Topic as string,
    IdentityCertificateUUID: payload.IdentityCertificateUUID as string,
    SignMessage: payload.SignMessage === true,
    AccessRights: payload.AccessRights as number | undefined,
    CheckOutWhenRemoved: payload.CheckOutWhenRemoved as boolean | undefined,
    ServerCapabilities: (payload.ServerCapabilities as string[] | undefined) ?? [],
  };
}

function openIdentity(payload: PlistDict): { certDer: Buffer; privateKey: crypto.KeyObject } {
  if (!Buffer.isBuffer(payload.PayloadContent)) throw new EnrollmentProfileError('the com.apple.security.pkcs12 payload has no PayloadContent data', 'bad-identity');
  try {
    const opened = openPkcs12(payload.PayloadContent, typeof payload.Password === 'string' ? payload.Password : '');
    return { certDer: opened.certDer, privateKey: opened.privateKey };
  } catch (error) {
    if (error instanceof Pkcs12Error) throw new EnrollmentProfileError(`the identity (PKCS#12) does not open: ${error.message}`, 'bad-identity');
    throw error;
  }
}
