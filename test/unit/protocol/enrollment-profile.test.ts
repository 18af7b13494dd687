import * as crypto from 'node:crypto';
import { signAttached } from '../../../protocol/cms';
import { EnrollmentProfileError, openEnrollmentProfile } from '../../../protocol/enrollment-profile';
import { buildPkcs12 } from '../../../protocol/pkcs12';
import { buildPlistBuffer } from '../../../protocol/plist';
import type { PlistDict } from '../../../protocol/plist/types';
import { buildEnrollmentProfile } from '../../../server/enroll/profile';
import { type Ca, type DeviceIdentity, issueDeviceIdentity, issueProfileSigner, loadOrCreateCa, type ProfileSigner } from '../../../server/pki';
import { tempDirs } from '../../helpers/pki';

const tempDir = tempDirs('mdmsim-profile-');
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const TOPIC = 'com.apple.mgmt.External.0f3c2a1b-4d5e-4f60-8a7b-9c0d1e2f3a4b';

let ca: Ca;
let otherCa: Ca;
let signer: ProfileSigner;
let identity: DeviceIdentity;
beforeAll(async () => {
  ca = await loadOrCreateCa(tempDir());
  otherCa = await loadOrCreateCa(tempDir());
  signer = issueProfileSigner(ca);
  identity = await issueDeviceIdentity(ca, { keyType: 'ec', now: T0 });
});

/** A profile as the server makes it, with `edit` applied to the plist before signing. */
function profile(edit: (p: PlistDict) => void = () => {}, by: ProfileSigner = signer): Buffer {
  const pkcs12 = buildPkcs12(identity, { password: 'pw' });
  const { profile: p } = buildEnrollmentProfile({ baseUrl: 'https://mdm.example.test:8443', topic: TOPIC, caCertDer: ca.certDer, pkcs12, password: 'pw' });
  edit(p);
  return signAttached(buildPlistBuffer(p), by);
}

const payload = (p: PlistDict, type: string) => (p.PayloadContent as PlistDict[]).find((x) => x.PayloadType === type)!;

function failure(fn: () => unknown): EnrollmentProfileError {
  try {
    fn();
  } catch (error) {
    if (error instanceof EnrollmentProfileError) return error;
    throw error;
  }
  throw new Error('expected an EnrollmentProfileError');
}

describe('openEnrollmentProfile (what a Mac checks before installing)', () => {
  it('gives the MDM settings, the identity and the anchors of a good profile', () => {
    const opened = openEnrollmentProfile(profile(), { trustedCaCerts: [ca.certDer] });
    expect(opened.mdm).toEqual({
      ServerURL: 'https://mdm.example.test:8443/mdm/connect',
      CheckInURL: 'https://mdm.example.test:8443/mdm/checkin',
      Topic: TOPIC,
      IdentityCertificateUUID: expect.stringMatching(/^[0-9A-F-]{36}$/),
      SignMessage: true,
      AccessRights: 8191,
      CheckOutWhenRemoved: true,
      ServerCapabilities: ['com.apple.mdm.bootstraptoken'],
    });
    expect(Buffer.compare(opened.identity.certDer, identity.certDer)).toBe(0);
    expect(new crypto.X509Certificate(opened.identity.certDer).checkPrivateKey(opened.identity.privateKey)).toBe(true);
    expect(opened.anchors).toEqual([ca.certDer]);
    expect(Buffer.compare(opened.signerCertDer, signer.certDer)).toBe(0);
  });

  it('refuses a profile signed under a CA the device was not told to trust', () => {
    const err = failure(() => openEnrollmentProfile(profile(), { trustedCaCerts: [otherCa.certDer] }));
    expect(err.code).toBe('untrusted-signer');
    expect(err.message).toContain('mdmsim Profile Signing');
  });

  it('refuses a profile altered after signing, and bytes that are not a signed profile', () => {
    const der = profile();
    const at = der.indexOf(Buffer.from('mdm.example.test'));
    der[at] ^= 0x20;
    expect(failure(() => openEnrollmentProfile(der)).code).toBe('bad-signature');
    expect(failure(() => openEnrollmentProfile(Buffer.from('<?xml version="1.0"?><plist/>'))).code).toBe('bad-signature');
  });

  it('refuses a PKCS#12 whose password does not open it', () => {
    const err = failure(() => openEnrollmentProfile(profile((p) => (payload(p, 'com.apple.security.pkcs12').Password = 'wrong'))));
    expect(err.code).toBe('bad-identity');
  });

  it('refuses an IdentityCertificateUUID that names no PKCS#12 payload', () => {
    const err = failure(() => openEnrollmentProfile(profile((p) => (payload(p, 'com.apple.mdm').IdentityCertificateUUID = payload(p, 'com.apple.security.root').PayloadUUID as string))));
    expect(err).toMatchObject({ code: 'malformed-profile', message: expect.stringContaining('com.apple.security.root') });
  });

  it("refuses an MDM payload that Apple's schema rejects", () => {
    const err = failure(() => openEnrollmentProfile(profile((p) => (payload(p, 'com.apple.mdm').AccessRights = 'all'))));
    expect(err).toMatchObject({ code: 'invalid-mdm-payload', message: expect.stringContaining('AccessRights') });
  });

  it('refuses a profile with no MDM payload or two', () => {
    expect(failure(() => openEnrollmentProfile(profile((p) => (p.PayloadContent = (p.PayloadContent as PlistDict[]).slice(0, 2))))).code).toBe('malformed-profile');
    expect(failure(() => openEnrollmentProfile(profile((p) => (p.PayloadContent as PlistDict[]).push({ ...payload(p, 'com.apple.mdm') })))).code).toBe('malformed-profile');
  });
});
