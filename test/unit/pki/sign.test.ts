import * as crypto from 'node:crypto';
import forge from 'node-forge';
import { forgePublicKey, privateKeyMatches, randomSerialNumber, signCertificate } from '../../../server/pki';

// Two keys for the whole file: generation is the slow part and not what is under test here.
const issuerKeys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const subjectKeys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

function selfSigned(): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.serialNumber = randomSerialNumber();
  cert.publicKey = forgePublicKey(issuerKeys.publicKey);
  cert.validity.notAfter = new Date(Date.now() + 86400_000);
  const name = [{ name: 'commonName', value: 'issuer' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([{ name: 'basicConstraints', cA: true }]);
  signCertificate(cert, issuerKeys.privateKey);
  return cert;
}

function childOf(issuer: forge.pki.Certificate): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.serialNumber = randomSerialNumber();
  cert.publicKey = forgePublicKey(subjectKeys.privateKey);
  cert.validity.notAfter = new Date(Date.now() + 86400_000);
  cert.setSubject([{ name: 'commonName', value: 'child' }]);
  cert.setIssuer(issuer.subject.attributes);
  signCertificate(cert, issuerKeys.privateKey);
  return cert;
}

function nodeX509(cert: forge.pki.Certificate): crypto.X509Certificate {
  return new crypto.X509Certificate(forge.pki.certificateToPem(cert));
}

describe('signCertificate', () => {
  it('produces SHA-256 RSA signatures that node and forge both accept', () => {
    const issuer = selfSigned();
    const child = childOf(issuer);

    expect(nodeX509(child).verify(issuerKeys.publicKey)).toBe(true);
    expect(nodeX509(child).checkIssued(nodeX509(issuer))).toBe(true);
    expect(issuer.verify(child)).toBe(true);
    expect(nodeX509(issuer).verify(issuerKeys.publicKey)).toBe(true);
    expect(forge.pki.oids[child.signatureOid]).toBe('sha256WithRSAEncryption');
    expect(child.siginfo.algorithmOid).toBe(child.signatureOid);
  });

  it('re-signs a parsed certificate after a change, not its stale cached body', () => {
    const parsed = forge.pki.certificateFromPem(forge.pki.certificateToPem(childOf(selfSigned())));
    parsed.setSubject([{ name: 'commonName', value: 'renamed' }]);
    signCertificate(parsed, issuerKeys.privateKey);

    const x509 = nodeX509(parsed);
    expect(x509.subject).toBe('CN=renamed');
    expect(x509.verify(issuerKeys.publicKey)).toBe(true);
  });

  it('refuses keys it cannot sign with, saying what it needs', () => {
    const cert = childOf(selfSigned());
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => signCertificate(cert, ec.privateKey)).toThrow(/RSA private key.*ec private/);
    expect(() => signCertificate(cert, issuerKeys.publicKey)).toThrow(/RSA private key.*rsa public/);
  });
});

describe('forgePublicKey', () => {
  it('carries the same modulus and exponent as the node key, from either half', () => {
    const jwk = subjectKeys.publicKey.export({ format: 'jwk' });
    for (const key of [subjectKeys.publicKey, subjectKeys.privateKey]) {
      const forgeKey = forgePublicKey(key);
      expect(forgeKey.n.toString(16)).toBe(Buffer.from(jwk.n ?? '', 'base64url').toString('hex').replace(/^0+/, ''));
      expect(forgeKey.e.toString(16)).toBe('10001');
    }
  });

  it('refuses non-RSA keys', () => {
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => forgePublicKey(ec.publicKey)).toThrow(/expected an RSA key, got ec/);
  });
});

describe('privateKeyMatches', () => {
  it('tells matching, foreign and damaged keys apart', () => {
    expect(privateKeyMatches(subjectKeys.privateKey, subjectKeys.publicKey)).toBe(true);
    expect(privateKeyMatches(issuerKeys.privateKey, subjectKeys.publicKey)).toBe(false);

    // A damaged prime: OpenSSL still signs correctly with such a key (it falls back to d).
    const jwk = subjectKeys.privateKey.export({ format: 'jwk' });
    const p = Buffer.from(jwk.p ?? '', 'base64url');
    p[p.length - 1] ^= 0x02;
    const damaged = crypto.createPrivateKey({ key: { ...jwk, p: p.toString('base64url') }, format: 'jwk' });
    expect(privateKeyMatches(damaged, subjectKeys.publicKey)).toBe(false);
  });
});

describe('randomSerialNumber', () => {
  it('gives distinct 16-byte positive, minimally encoded serials', () => {
    const serials = Array.from({ length: 1000 }, randomSerialNumber);
    expect(new Set(serials).size).toBe(serials.length);
    // First byte 01..7f: positive (top bit clear) and no redundant leading zero byte.
    expect(serials.filter((serial) => !/^(0[1-9a-f]|[1-7][0-9a-f])[0-9a-f]{30}$/.test(serial))).toEqual([]);
  });
});
