import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childrenOf, readRoot, type Tlv } from '../../../protocol/asn1';
import { OID } from '../../../protocol/asn1/oids';
import { createMdmSigner, findSignerCertificate, issuerAndSerialOf, parseSignedData, verifySignature } from '../../../protocol/cms';
import { openssl, tempDirs } from '../../helpers/pki';
import { makePki, type TestPki } from './identities';

const tempDir = tempDirs('mdmsim-cms-signer-');
let pki: TestPki;
let dir: string;

beforeAll(() => {
  dir = tempDir();
  pki = makePki(dir);
});

const body = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>MessageType</key><string>Authenticate</string></dict></plist>\n');

/** True when no element anywhere uses an indefinite length: the output is meant to be DER. */
function definiteThroughout(el: Tlv): boolean {
  if (el.indefinite) return false;
  if (!el.constructed) return true;
  return childrenOf(el).every(definiteThroughout);
}

/** `openssl cms -verify` of a detached signature; throws with openssl's stderr on failure. */
function opensslVerifyDetached(signature: Buffer, content: Buffer, trust: string[]): void {
  const sig = path.join(dir, 'sig.der');
  const bodyFile = path.join(dir, 'body.bin');
  fs.writeFileSync(sig, signature);
  fs.writeFileSync(bodyFile, content);
  openssl('cms', '-verify', '-inform', 'DER', '-in', sig, '-content', bodyFile, '-binary', ...trust, '-out', '/dev/null');
}

describe.each([
  ['RSA 2048', 'rsa', 'sha256'],
  ['RSA 2048', 'rsa', 'sha1'],
  ['EC P-256', 'ec', 'sha256'],
  ['EC P-256', 'ec', 'sha1'],
] as const)('createMdmSigner with %s (%s key, %s)', (_label, alg, digest) => {
  const identity = () => pki[alg];

  it('produces a DER detached SignedData, without signed attributes, that verifySignature accepts', () => {
    const der = createMdmSigner(identity(), { digest }).signDer(body);
    expect(definiteThroughout(readRoot(der))).toBe(true);
    const parsed = parseSignedData(der);
    expect(parsed.contentType).toBe(OID.data);
    expect(parsed.content).toBeUndefined();
    expect(parsed.certificates).toEqual([identity().certDer]);
    expect(parsed.signer.digest).toBe(digest);
    expect(parsed.signer.keyType).toBe(alg === 'rsa' ? 'rsa' : 'ecdsa');
    expect(parsed.signer.signedAttributes).toBeUndefined();
    const ids = issuerAndSerialOf(identity().certDer);
    expect(parsed.signer.sid.issuerAndSerial).toEqual({ issuer: ids.issuer, serialHex: ids.serialHex });
    expect(findSignerCertificate(parsed)).toEqual(identity().certDer);
    expect(verifySignature(parsed, body, identity().publicKey)).toBe(true);
  });

  it('is accepted by openssl cms -verify, with -noverify and against the test CA', () => {
    const der = createMdmSigner(identity(), { digest }).signDer(body);
    opensslVerifyDetached(der, body, ['-noverify']);
    opensslVerifyDetached(der, body, ['-CAfile', pki.root.certPath]);
  });

  it('fails verification for a tampered body or another key', () => {
    const parsed = parseSignedData(createMdmSigner(identity(), { digest }).signDer(body));
    const tampered = Buffer.from(body);
    tampered[10] ^= 0x20;
    expect(verifySignature(parsed, tampered, identity().publicKey)).toBe(false);
    const other = alg === 'rsa' ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }) : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(verifySignature(parsed, body, other.publicKey)).toBe(false);
  });

  it('returns base64 of the DER from sign(), the same structure around a fresh signature each time', () => {
    const signer = createMdmSigner(identity(), { digest });
    const values = Array.from({ length: 20 }, (_, i) => signer.sign(Buffer.concat([body, Buffer.from([i])])));
    values.forEach((value, i) => {
      const parsed = parseSignedData(Buffer.from(value, 'base64'));
      expect(verifySignature(parsed, Buffer.concat([body, Buffer.from([i])]), identity().publicKey)).toBe(true);
    });
    expect(new Set(values).size).toBe(values.length);
  });
});

describe('createMdmSigner', () => {
  it('defaults to SHA-256', () => {
    expect(parseSignedData(createMdmSigner(pki.ec).signDer(body)).signer.digest).toBe('sha256');
  });

  it('writes rsaEncryption for RSA and ecdsa-with-SHA* for EC', () => {
    const algorithmOids = (der: Buffer) => openssl('asn1parse', '-inform', 'DER', '-in', writeTemp(der));
    expect(algorithmOids(createMdmSigner(pki.rsa).signDer(body))).toMatch(/:rsaEncryption/);
    expect(algorithmOids(createMdmSigner(pki.ec, { digest: 'sha1' }).signDer(body))).toMatch(/:ecdsa-with-SHA1/);
  });

  it('includes the chain after the leaf, and openssl builds the path through it', () => {
    const der = createMdmSigner(pki.chained).signDer(body);
    expect(parseSignedData(der).certificates).toEqual([pki.chained.certDer, pki.intermediate.certDer]);
    opensslVerifyDetached(der, body, ['-CAfile', pki.root.certPath]);
  });

  it('handles ECDSA signatures of every length (the length octets change with r and s)', () => {
    const signer = createMdmSigner(pki.ec);
    const lengths = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const content = Buffer.from(`body ${i}`);
      const parsed = parseSignedData(signer.signDer(content));
      lengths.add(parsed.signer.signature.length);
      expect(verifySignature(parsed, content, pki.ec.publicKey)).toBe(true);
    }
    expect(lengths.size).toBeGreaterThan(1);
  });

  it('refuses, at creation, a key that does not match the certificate', () => {
    expect(() => createMdmSigner({ certDer: pki.rsa.certDer, privateKey: pki.chained.privateKey })).toThrow(/private key does not match the certificate/);
    expect(() => createMdmSigner({ certDer: pki.rsa.certDer, privateKey: pki.ec.privateKey })).toThrow(/does not match/);
  });

  it('refuses keys that are neither RSA nor EC, or not private', () => {
    const ed = makeCertWithEd25519();
    expect(() => createMdmSigner(ed)).toThrow(/expected an RSA or EC private key, got a ed25519 key/);
    expect(() => createMdmSigner({ certDer: pki.rsa.certDer, privateKey: pki.rsa.publicKey })).toThrow(/expected identity.privateKey to be a private KeyObject, got public/);
  });

  it('refuses a certificate that is not one, and digests a Mac does not use', () => {
    expect(() => createMdmSigner({ certDer: Buffer.from('nope'), privateKey: pki.rsa.privateKey })).toThrow(/certDer is not an X.509 certificate/);
    expect(() => createMdmSigner(pki.rsa, { digest: 'md5' as 'sha1' })).toThrow(/unsupported digest "md5"; expected one of sha256, sha1/);
  });
});

function writeTemp(der: Buffer): string {
  const file = path.join(dir, `out-${crypto.randomUUID()}.der`);
  fs.writeFileSync(file, der);
  return file;
}

function makeCertWithEd25519(): { certDer: Buffer; privateKey: crypto.KeyObject } {
  const keyPath = path.join(dir, 'ed25519.key');
  const certPath = path.join(dir, 'ed25519.pem');
  openssl('genpkey', '-algorithm', 'ED25519', '-out', keyPath);
  openssl('req', '-x509', '-new', '-key', keyPath, '-subj', '/CN=ed25519', '-days', '1', '-out', certPath);
  return { certDer: new crypto.X509Certificate(fs.readFileSync(certPath)).raw, privateKey: crypto.createPrivateKey(fs.readFileSync(keyPath)) };
}
