/**
 * The enrollment profile a Mac installs to enroll: the CA (so it trusts the server), a fresh
 * identity as PKCS#12 with its password, and the com.apple.mdm payload that names the server,
 * the push topic and that identity. Payload order matters: certificates install before MDM.
 */
import { randomUUID } from 'node:crypto';
import type { PlistDict } from '../../protocol/plist/types';

export const ENROLL_CONTENT_TYPE = 'application/x-apple-aspen-config';
export const PROFILE_IDENTIFIER = 'com.github.mdmsim.enrollment';

/**
 * Every right (1 through 4096): mdmsim's simulated commands include erase, lock and app
 * management, which need them.
 */
export const ACCESS_RIGHTS_ALL = 8191;

/**
 * What this server implements: bootstrap-token escrow (SetBootstrapToken/GetBootstrapToken).
 * Not per-user connections (UserAuthenticate is answered 410) and not GetToken.
 */
export const SERVER_CAPABILITIES = ['com.apple.mdm.bootstraptoken'];

export interface EnrollmentProfileInput {
  /** https://host:port the device reaches the server at; ServerURL and CheckInURL hang off it. */
  baseUrl: string;
  topic: string;
  caCertDer: Buffer;
  pkcs12: Buffer;
  password: string;
  /** The PayloadUUIDs to use (default: fresh ones): the same UUIDs rebuild the same profile. */
  uuids?: EnrollmentProfileUuids;
}

/** The PayloadUUIDs of an enrollment profile: the profile's own and each payload's. */
export interface EnrollmentProfileUuids {
  profile: string;
  ca: string;
  identity: string;
  mdm: string;
}

export interface EnrollmentProfile {
  profile: PlistDict;
  /** PayloadUUID of the PKCS#12 payload, which IdentityCertificateUUID names. */
  identityPayloadUUID: string;
  mdmPayload: PlistDict;
  uuids: EnrollmentProfileUuids;
}

export function buildEnrollmentProfile(input: EnrollmentProfileInput): EnrollmentProfile {
  const uuid = () => randomUUID().toUpperCase();
  const uuids: EnrollmentProfileUuids = input.uuids ?? { profile: uuid(), ca: uuid(), identity: uuid(), mdm: uuid() };
  const identityPayloadUUID = uuids.identity;
  const caPayload: PlistDict = {
    PayloadType: 'com.apple.security.root',
    PayloadVersion: 1,
    PayloadIdentifier: `${PROFILE_IDENTIFIER}.ca`,
    PayloadUUID: uuids.ca,
    PayloadDisplayName: 'mdmsim Local CA',
    PayloadCertificateFileName: 'mdmsim-ca.cer',
    PayloadContent: input.caCertDer,
  };
  const identityPayload: PlistDict = {
    PayloadType: 'com.apple.security.pkcs12',
    PayloadVersion: 1,
    PayloadIdentifier: `${PROFILE_IDENTIFIER}.identity`,
    PayloadUUID: identityPayloadUUID,
    PayloadDisplayName: 'MDM device identity',
    PayloadCertificateFileName: 'mdm-identity.p12',
    Password: input.password,
    PayloadContent: input.pkcs12,
  };
  const mdmPayload: PlistDict = {
    PayloadType: 'com.apple.mdm',
    PayloadVersion: 1,
    PayloadIdentifier: `${PROFILE_IDENTIFIER}.mdm`,
    PayloadUUID: uuids.mdm,
    PayloadDisplayName: 'Mobile Device Management',
    IdentityCertificateUUID: identityPayloadUUID,
    Topic: input.topic,
    ServerURL: `${input.baseUrl}/mdm/connect`,
    CheckInURL: `${input.baseUrl}/mdm/checkin`,
    SignMessage: true,
    AccessRights: ACCESS_RIGHTS_ALL,
    CheckOutWhenRemoved: true,
    ServerCapabilities: [...SERVER_CAPABILITIES],
  };
  const profile: PlistDict = {
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: PROFILE_IDENTIFIER,
    PayloadUUID: uuids.profile,
    PayloadDisplayName: 'mdmsim enrollment',
    PayloadDescription: 'Enrolls this Mac in the mdmsim MDM server.',
    PayloadOrganization: 'mdmsim',
    PayloadScope: 'System',
    PayloadContent: [caPayload, identityPayload, mdmPayload],
  };
  return { profile, identityPayloadUUID, mdmPayload, uuids };
}
