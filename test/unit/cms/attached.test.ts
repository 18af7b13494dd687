import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childrenOf, encodingOf, readRoot } from '../../../protocol/asn1';
import { time } from '../../../protocol/asn1/der';
import { OID } from '../../../protocol/asn1/oids';
import { findSignerCertificate, parseSignedData, signAttached, verifySignature, type DigestName } from '../../../protocol/cms';
import { openssl, tempDirs } from '../../helpers/pki';
import { makePki, type TestIdentity, type TestPki } from './identities';

const tempDir = tempDirs('mdmsim-cms-attached-');
let pki: TestPki;
let dir: string;

beforeAll(() => {
  dir = tempDir();
  pki = makePki(dir);
});

const profile = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
    '<plist version="1.0"><dict><key>PayloadType</key><string>Configuration</string><key>PayloadDisplayName</key><string>Enrolment — ü</string></dict></plist>\n',
);
const signingTime = new Date('2026-03-04T05:06:07Z');

/** What `openssl smime -verify` extracts, trusting only the test root; throws if it refuses. */
function smimeVerify(p7: Buffer): Buffer {
  const id = crypto.randomUUID();
  const input = path.join(dir, `${id}.p7`);
  const output = path.join(dir, `${id}.out`);
  fs.writeFileSync(input, p7);
  openssl('smime', '-verify', '-inform', 'DER', '-in', input, '-CAfile', pki.root.certPath, '-out', output);
  return fs.readFileSync(output);
}

describe.each([
  ['an RSA signer', 'rsa'],
  ['an EC P-256 signer', 'ec'],
  ['an RSA signer under an intermediate', 'chained'],
] as const)('signAttached with %s', (_label, which) => {
  const identity = (): TestIdentity => pki[which];

  it('is accepted by openssl smime -verify against the test CA, which extracts the content', () => {
    expect(smimeVerify(signAttached(profile, identity(), { signingTime }))).toEqual(profile);
  });

  it('parses back with the content, DER-sorted signed attributes and the signing time given', () => {
    const parsed = parseSignedData(signAttached(profile, identity(), { signingTime }));
    expect(parsed.contentType).toBe(OID.data);
    expect(parsed.content).toEqual(profile);
    expect(parsed.certificates).toEqual([identity().certDer, ...(identity().chainDer ?? [])]);
    expect(findSignerCertificate(parsed)).toEqual(identity().certDer);
    expect(parsed.signer.digest).toBe('sha256');
    expect(parsed.signer.messageDigest).toEqual(crypto.hash('sha256', profile, 'buffer'));
    const attributes = parsed.signer.signedAttributes!;
    expect(attributes[0]).toBe(0x31);
    const encodings = childrenOf(readRoot(attributes)).map(encodingOf);
    expect(encodings).toHaveLength(3);
    expect([...encodings].sort(Buffer.compare)).toEqual(encodings);
    expect(attributes.includes(time(signingTime))).toBe(true);
    expect(verifySignature(parsed, undefined, identity().publicKey)).toBe(true);
  });

  it('fails verification when the content is changed or the key is another', () => {
    const p7 = signAttached(profile, identity(), { signingTime });
    const tampered = Buffer.from(p7);
    tampered[tampered.indexOf(Buffer.from('Configuration'))] ^= 0x20;
    const parsed = parseSignedData(tampered);
    expect(verifySignature(parsed, undefined, identity().publicKey)).toBe(false);
    expect(() => smimeVerify(tampered)).toThrow();
    const original = parseSignedData(p7);
    expect(verifySignature(original, Buffer.from('something else'), identity().publicKey)).toBe(false);
    const other = which === 'ec' ? pki.rsa : pki.ec;
    expect(verifySignature(original, undefined, other.publicKey)).toBe(false);
    expect(verifySignature(original, undefined, pki.intermediate.publicKey)).toBe(false);
  });
});

describe('signAttached', () => {
  it.each(['sha1', 'sha384', 'sha512'] as DigestName[])('signs with %s, which openssl accepts', (digest) => {
    for (const identity of [pki.rsa, pki.ec]) {
      const p7 = signAttached(profile, identity, { digest, signingTime });
      expect(parseSignedData(p7).signer.digest).toBe(digest);
      expect(smimeVerify(p7)).toEqual(profile);
    }
  });

  it('defaults the signing time to now', () => {
    const before = Date.now();
    const attributes = parseSignedData(signAttached(profile, pki.ec)).signer.signedAttributes!;
    const utcTime = /(\d{12})Z/.exec(attributes.toString('latin1'))![1];
    const signed = Date.UTC(2000 + Number(utcTime.slice(0, 2)), Number(utcTime.slice(2, 4)) - 1, Number(utcTime.slice(4, 6)), Number(utcTime.slice(6, 8)), Number(utcTime.slice(8, 10)), Number(utcTime.slice(10, 12)));
    expect(signed).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(signed).toBeLessThanOrEqual(Date.now());
  });

  it('signs empty content', () => {
    const p7 = signAttached(Buffer.alloc(0), pki.rsa, { signingTime });
    expect(verifySignature(parseSignedData(p7), undefined, pki.rsa.publicKey)).toBe(true);
    expect(smimeVerify(p7)).toEqual(Buffer.alloc(0));
  });

  it('refuses a mismatched key and an invalid signing time', () => {
    expect(() => signAttached(profile, { certDer: pki.rsa.certDer, privateKey: pki.ec.privateKey })).toThrow(/signAttached: the private key does not match/);
    expect(() => signAttached(profile, pki.rsa, { signingTime: new Date(NaN) })).toThrow(/invalid Date/);
  });
});
