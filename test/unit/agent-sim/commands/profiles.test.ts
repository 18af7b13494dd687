import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasEnrollmentProfile } from '../../../../agent-sim/commands';
import { signAttached } from '../../../../protocol/cms';
import { buildPkcs12 } from '../../../../protocol/pkcs12';
import { buildPlistBuffer } from '../../../../protocol/plist';
import type { PlistDict } from '../../../../protocol/plist/types';
import { openssl, tempDirs } from '../../../helpers/pki';
import { acknowledged, ALL_OS, expectValid, mac, NOW, run, type TestMac } from './helpers';

const tempDir = tempDirs('mdmsim-commands-');

interface Cert {
  certDer: Buffer;
  privateKey: crypto.KeyObject;
}

/** A self-signed EC certificate made by the openssl binary. */
function makeCert(cn: string): Cert {
  const dir = tempDir();
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/O=mdmsim tests/CN=${cn}`);
  return { certDer: new crypto.X509Certificate(fs.readFileSync(cert)).raw, privateKey: crypto.createPrivateKey(fs.readFileSync(key)) };
}

let ca: Cert;
let signer: Cert;
beforeAll(() => {
  ca = makeCert('Example Root CA');
  signer = makeCert('Example Profile Signer');
});

function profile(identifier: string, payloads: PlistDict[] = [], extra: PlistDict = {}): PlistDict {
  return {
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: identifier,
    PayloadUUID: crypto.randomUUID().toUpperCase(),
    PayloadDisplayName: `Profile ${identifier}`,
    PayloadOrganization: 'Example Org',
    PayloadContent: payloads,
    ...extra,
  };
}

function payload(type: string, identifier: string, extra: PlistDict = {}): PlistDict {
  return { PayloadType: type, PayloadVersion: 1, PayloadIdentifier: identifier, PayloadUUID: crypto.randomUUID().toUpperCase(), PayloadDisplayName: identifier, ...extra };
}

/** What mac.ts installs at enrollment: the MDM payload, the identity and the CA. */
function installEnrollmentProfile(m: TestMac): void {
  const content = profile('com.example.mdm.enroll', [payload('com.apple.mdm', 'com.example.mdm.enroll.mdm'), payload('com.apple.security.root', 'com.example.mdm.enroll.ca', { PayloadContent: ca.certDer })]);
  m.state.profiles.set('com.example.mdm.enroll', {
    PayloadIdentifier: 'com.example.mdm.enroll',
    PayloadUUID: content.PayloadUUID as string,
    PayloadVersion: 1,
    PayloadDisplayName: 'MDM enrollment',
    managed: true,
    content,
    installedAt: NOW,
  });
  m.state.certificates.push({ commonName: 'mdmsim device identity', der: signer.certDer, isIdentity: true, managed: true });
  m.state.certificates.push({ commonName: 'Example Root CA', der: ca.certDer, isIdentity: false, managed: true });
}

function chainOf(outcome: Awaited<ReturnType<typeof run>>) {
  if (outcome.status !== 'Error') throw new Error(`expected Error, got ${outcome.status}`);
  return outcome.errorChain;
}

describe('InstallProfile', () => {
  it.each(ALL_OS)('on %s installs a plain profile with a root certificate; ProfileList and CertificateList show it (strict schema)', async (os) => {
    const m = mac(os);
    const p = profile('com.example.wifi', [payload('com.apple.security.root', 'com.example.wifi.ca', { PayloadContent: ca.certDer }), payload('com.apple.wifi.managed', 'com.example.wifi.net', { SSID_STR: 'corp' })]);
    const outcome = await run(m, 'InstallProfile', { Payload: buildPlistBuffer(p) });
    expect(outcome).toEqual({ status: 'Acknowledged' });
    expectValid(m, 'InstallProfile', outcome);

    expect(m.state.profiles.get('com.example.wifi')).toMatchObject({ PayloadUUID: p.PayloadUUID, PayloadVersion: 1, PayloadDisplayName: 'Profile com.example.wifi', managed: true, installedAt: NOW });
    expect(m.state.certificates).toEqual([{ commonName: 'Example Root CA', der: ca.certDer, isIdentity: false, managed: true }]);

    const list = await run(m, 'ProfileList');
    expectValid(m, 'ProfileList', list);
    const items = acknowledged(list).ProfileList as PlistDict[];
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ PayloadIdentifier: 'com.example.wifi', PayloadOrganization: 'Example Org', PayloadRemovalDisallowed: false });
    const content = items[0]!.PayloadContent as PlistDict[];
    expect(content.map((c) => c.PayloadType)).toEqual(['com.apple.security.root', 'com.apple.wifi.managed']);
    // PayloadUUID of the payloads is reported from macOS 14 (schema).
    expect('PayloadUUID' in content[0]!).toBe(os === 'sonoma' || os === 'sequoia');

    const certs = await run(m, 'CertificateList');
    expectValid(m, 'CertificateList', certs);
    expect(acknowledged(certs).CertificateList).toEqual([{ CommonName: 'Example Root CA', Data: ca.certDer, IsIdentity: false }]);
  });

  it('unwraps a CMS-signed profile', async () => {
    const m = mac('sonoma');
    const p = profile('com.example.signed', [payload('com.apple.security.pkcs1', 'com.example.signed.cert', { PayloadContent: signer.certDer })]);
    const signed = signAttached(buildPlistBuffer(p), signer, { signingTime: new Date(NOW) });
    expect(await run(m, 'InstallProfile', { Payload: signed })).toEqual({ status: 'Acknowledged' });
    expect(m.state.profiles.get('com.example.signed')?.content.PayloadContent).toEqual(p.PayloadContent);
    expect(m.state.certificates.map((c) => c.commonName)).toEqual(['Example Profile Signer']);
  });

  it('installs a PKCS#12 identity (IsIdentity) and a PEM certificate', async () => {
    const m = mac('monterey');
    const p12 = buildPkcs12(signer, { password: 'secret', iterations: 16 });
    const pem = Buffer.from(new crypto.X509Certificate(ca.certDer).toString());
    const p = profile('com.example.ids', [
      payload('com.apple.security.pkcs12', 'com.example.ids.p12', { PayloadContent: p12, Password: 'secret' }),
      payload('com.apple.security.pem', 'com.example.ids.pem', { PayloadContent: pem }),
    ]);
    const outcome = await run(m, 'InstallProfile', { Payload: buildPlistBuffer(p) });
    expect(outcome.status).toBe('Acknowledged');
    expect(m.state.certificates.map((c) => [c.commonName, c.isIdentity])).toEqual([
      ['Example Profile Signer', true],
      ['Example Root CA', false],
    ]);
  });

  it('answers a wrong PKCS#12 password with MCCertificateErrorDomain 9000', async () => {
    const m = mac('sonoma');
    const p12 = buildPkcs12(signer, { password: 'secret', iterations: 16 });
    const p = profile('com.example.ids', [payload('com.apple.security.pkcs12', 'com.example.ids.p12', { PayloadContent: p12, Password: 'wrong' })]);
    const chain = chainOf(await run(m, 'InstallProfile', { Payload: buildPlistBuffer(p) }));
    expect(chain[0]).toMatchObject({ ErrorDomain: 'MCCertificateErrorDomain', ErrorCode: 9000 });
    expect(m.state.profiles.size).toBe(0);
  });

  it.each([
    ['not a plist', Buffer.from('hello')],
    ['a plist that is not a profile', buildPlistBuffer(['a'])],
    ['a profile without PayloadIdentifier', buildPlistBuffer({ PayloadType: 'Configuration', PayloadVersion: 1, PayloadUUID: 'X' })],
    ['a payload without PayloadUUID', buildPlistBuffer(profile('com.example.bad', [{ PayloadType: 'com.apple.dock', PayloadVersion: 1, PayloadIdentifier: 'x' }]))],
  ])('answers %s with MCInstallationErrorDomain 4000 over MCProfileErrorDomain 1000', async (_what, bytes) => {
    const m = mac('sonoma');
    const outcome = await run(m, 'InstallProfile', { Payload: bytes });
    expect(chainOf(outcome).map((e) => [e.ErrorDomain, e.ErrorCode])).toEqual([
      ['MCInstallationErrorDomain', 4000],
      ['MCProfileErrorDomain', 1000],
    ]);
    expectValid(m, 'InstallProfile', outcome);
    expect(m.state.profiles.size).toBe(0);
  });

  it('answers unreadable CMS with 1004 Bad signature', async () => {
    const chain = chainOf(await run(mac('sonoma'), 'InstallProfile', { Payload: Buffer.from([0x30, 0x82, 0x01, 0x00, 0x01]) }));
    expect(chain[1]).toMatchObject({ ErrorDomain: 'MCProfileErrorDomain', ErrorCode: 1004 });
  });

  it('answers a malformed certificate payload with MCCertificateErrorDomain 9005', async () => {
    const p = profile('com.example.c', [payload('com.apple.security.root', 'com.example.c.ca', { PayloadContent: Buffer.from('junk') })]);
    const chain = chainOf(await run(mac('sonoma'), 'InstallProfile', { Payload: buildPlistBuffer(p) }));
    expect(chain[0]).toMatchObject({ ErrorDomain: 'MCCertificateErrorDomain', ErrorCode: 9005 });
  });

  it('answers an encrypted profile with 1006: the simulation cannot decrypt it', async () => {
    const p = profile('com.example.enc', undefined, { EncryptedPayloadContent: Buffer.from('xx') });
    delete p.PayloadContent;
    const chain = chainOf(await run(mac('sonoma'), 'InstallProfile', { Payload: buildPlistBuffer(p) }));
    expect(chain[0]).toMatchObject({ ErrorDomain: 'MCProfileErrorDomain', ErrorCode: 1006 });
  });

  it('replaces its own profile (same identifier), swapping the certificates', async () => {
    const m = mac('sonoma');
    await run(m, 'InstallProfile', { Payload: buildPlistBuffer(profile('com.example.p', [payload('com.apple.security.root', 'com.example.p.ca', { PayloadContent: ca.certDer })])) });
    const v2 = profile('com.example.p', [payload('com.apple.security.pkcs1', 'com.example.p.cert', { PayloadContent: signer.certDer })]);
    expect((await run(m, 'InstallProfile', { Payload: buildPlistBuffer(v2) })).status).toBe('Acknowledged');
    expect(m.state.profiles.get('com.example.p')?.PayloadUUID).toBe(v2.PayloadUUID);
    expect(m.state.certificates.map((c) => c.commonName)).toEqual(['Example Profile Signer']);
  });

  it('will not replace a profile the user installed (MDMClientError 96)', async () => {
    const m = mac('sonoma');
    const mine = profile('com.example.user');
    m.state.profiles.set('com.example.user', { PayloadIdentifier: 'com.example.user', PayloadUUID: mine.PayloadUUID as string, PayloadVersion: 1, managed: false, content: mine, installedAt: NOW });
    const chain = chainOf(await run(m, 'InstallProfile', { Payload: buildPlistBuffer(profile('com.example.user')) }));
    expect(chain).toEqual([
      {
        ErrorCode: 96,
        ErrorDomain: 'MDMClientError',
        LocalizedDescription: "Cannot replace profile 'com.example.user' because it was not installed by the MDM server.",
        USEnglishDescription: "Cannot replace profile 'com.example.user' because it was not installed by the MDM server.",
      },
    ]);
  });
});

describe('ProfileList and CertificateList with ManagedOnly', () => {
  function withUserProfile(os: 'catalina' | 'sonoma', osVersion?: string): TestMac {
    const m = mac(os, undefined, osVersion ? { osVersion, buildVersion: '18G103' } : {});
    installEnrollmentProfile(m);
    const mine = profile('com.example.user');
    m.state.profiles.set('com.example.user', { PayloadIdentifier: 'com.example.user', PayloadUUID: mine.PayloadUUID as string, PayloadVersion: 1, managed: false, content: mine, installedAt: NOW });
    m.state.certificates.push({ commonName: 'user cert', der: ca.certDer, isIdentity: false, managed: false });
    return m;
  }

  it('filters to what MDM installed', async () => {
    const m = withUserProfile('sonoma');
    const all = acknowledged(await run(m, 'ProfileList')).ProfileList as PlistDict[];
    const managed = acknowledged(await run(m, 'ProfileList', { ManagedOnly: true })).ProfileList as PlistDict[];
    expect(all.map((p) => p.PayloadIdentifier)).toEqual(['com.example.mdm.enroll', 'com.example.user']);
    expect(managed.map((p) => p.PayloadIdentifier)).toEqual(['com.example.mdm.enroll']);
    const certs = acknowledged(await run(m, 'CertificateList', { ManagedOnly: true })).CertificateList as PlistDict[];
    expect(certs.map((c) => [c.CommonName, c.IsIdentity])).toEqual([
      ['mdmsim device identity', true],
      ['Example Root CA', false],
    ]);
  });

  it('is ignored by macOS before 10.15, which has no ManagedOnly', async () => {
    const m = withUserProfile('catalina', '10.14.6');
    const managed = acknowledged(await run(m, 'ProfileList', { ManagedOnly: true })).ProfileList as PlistDict[];
    expect(managed).toHaveLength(2);
  });
});

describe('RemoveProfile', () => {
  it.each(ALL_OS)('on %s removes a profile it installed, and its certificates', async (os) => {
    const m = mac(os);
    await run(m, 'InstallProfile', { Payload: buildPlistBuffer(profile('com.example.p', [payload('com.apple.security.root', 'com.example.p.ca', { PayloadContent: ca.certDer })])) });
    const outcome = await run(m, 'RemoveProfile', { Identifier: 'com.example.p' });
    expect(outcome).toEqual({ status: 'Acknowledged' });
    expectValid(m, 'RemoveProfile', outcome);
    expect(m.state.profiles.size).toBe(0);
    expect(m.state.certificates).toEqual([]);
  });

  it('answers an unknown identifier with MDMClientError 89, as macOS does', async () => {
    const m = mac('sonoma');
    const outcome = await run(m, 'RemoveProfile', { Identifier: 'com.example.nope' });
    expect(chainOf(outcome)).toEqual([
      {
        ErrorCode: 89,
        ErrorDomain: 'MDMClientError',
        LocalizedDescription: "Profile with identifier 'com.example.nope' not found.",
        USEnglishDescription: "Profile with identifier 'com.example.nope' not found.",
      },
    ]);
    expectValid(m, 'RemoveProfile', outcome);
  });

  it('does not touch a profile the user installed', async () => {
    const m = mac('sonoma');
    const mine = profile('com.example.user');
    m.state.profiles.set('com.example.user', { PayloadIdentifier: 'com.example.user', PayloadUUID: mine.PayloadUUID as string, PayloadVersion: 1, managed: false, content: mine, installedAt: NOW });
    expect(chainOf(await run(m, 'RemoveProfile', { Identifier: 'com.example.user' }))[0]!.ErrorCode).toBe(89);
    expect(m.state.profiles.has('com.example.user')).toBe(true);
  });

  it('removes the enrollment profile when asked ("An MDM server can always remove this profile"), and all it brought', async () => {
    const m = mac('sonoma');
    installEnrollmentProfile(m);
    await run(m, 'InstallProfile', { Payload: buildPlistBuffer(profile('com.example.p')) });
    expect(hasEnrollmentProfile(m.state)).toBe(true);
    expect(await run(m, 'RemoveProfile', { Identifier: 'com.example.mdm.enroll' })).toEqual({ status: 'Acknowledged' });
    expect(hasEnrollmentProfile(m.state)).toBe(false);
    expect(m.state.profiles.size).toBe(0);
    expect(m.state.certificates).toEqual([]);
  });
});
