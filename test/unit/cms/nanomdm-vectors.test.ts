import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CmsError, findSignerCertificate, issuerAndSerialOf, parseSignedData, verifySignature } from '../../../protocol/cms';
import { OID } from '../../../protocol/asn1/oids';

// Real Mdm-Signature headers from NanoMDM's tests: BER with indefinite lengths, detached,
// SHA-1, sha1WithRSAEncryption, no signed attributes — what Macs send.
const vectors = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../../../fixtures/captures/nanomdm/cryptoutil_mdm-signature-vectors.json'), 'utf8'),
) as Record<string, string>;
const header1 = Buffer.from(vectors.mdmSignatureHeader1, 'base64');
const header2 = Buffer.from(vectors.mdmSignatureHeader2, 'base64');
const body2 = Buffer.from(vectors.mdmSignatureBody2_base64, 'base64');

function signerKey(der: Buffer): crypto.KeyObject {
  const cert = findSignerCertificate(parseSignedData(der));
  if (cert === undefined) throw new Error('no signer certificate in the vector');
  return new crypto.X509Certificate(cert).publicKey;
}

describe('NanoMDM Mdm-Signature vectors', () => {
  it('header2 parses as a detached SHA-1 RSA signature without signed attributes', () => {
    const parsed = parseSignedData(header2);
    expect(parsed.contentType).toBe(OID.data);
    expect(parsed.content).toBeUndefined();
    expect(parsed.certificates).toHaveLength(1);
    expect(parsed.signer.digest).toBe('sha1');
    expect(parsed.signer.keyType).toBe('rsa');
    expect(parsed.signer.signedAttributes).toBeUndefined();
    expect(parsed.signer.messageDigest).toBeUndefined();
    expect(parsed.signer.signature).toHaveLength(256);
    expect(parsed.signer.sid.issuerAndSerial?.serialHex).toBe('22');
  });

  it('header2 verifies against body2 with its own embedded certificate', () => {
    const parsed = parseSignedData(header2);
    const cert = findSignerCertificate(parsed);
    expect(cert).toBeDefined();
    const x509 = new crypto.X509Certificate(cert!);
    expect(x509.serialNumber).toBe('22');
    expect(issuerAndSerialOf(cert!).serialHex).toBe('22');
    expect(verifySignature(parsed, body2, x509.publicKey)).toBe(true);
  });

  it('header2 does not verify a body with one byte changed', () => {
    const parsed = parseSignedData(header2);
    const key = signerKey(header2);
    for (const at of [0, body2.length >> 1, body2.length - 1]) {
      const tampered = Buffer.from(body2);
      tampered[at] ^= 0x01;
      expect(verifySignature(parsed, tampered, key)).toBe(false);
    }
    expect(verifySignature(parsed, body2.subarray(0, -1), key)).toBe(false);
  });

  it('header1 parses and names its embedded certificate', () => {
    const parsed = parseSignedData(header1);
    expect(parsed.signer.digest).toBe('sha1');
    expect(parsed.signer.keyType).toBe('rsa');
    expect(parsed.signer.sid.issuerAndSerial?.serialHex).toBe('04');
    const cert = findSignerCertificate(parsed);
    expect(cert).toBeDefined();
    expect(new crypto.X509Certificate(cert!).serialNumber).toBe('04');
    // header1 was made over another body: it must not verify header2's.
    expect(verifySignature(parsed, body2, signerKey(header1))).toBe(false);
  });

  it('returns views into the input, not copies', () => {
    const parsed = parseSignedData(header2);
    for (const part of [parsed.certificates[0], parsed.signer.signature, parsed.signer.sid.issuerAndSerial!.issuer]) {
      expect(part.buffer).toBe(header2.buffer);
    }
  });

  it('rejects the signature with another key, or a key of another type, as false', () => {
    const parsed = parseSignedData(header2);
    expect(verifySignature(parsed, body2, signerKey(header1))).toBe(false);
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(verifySignature(parsed, body2, ec.publicKey)).toBe(false);
    const ed = crypto.generateKeyPairSync('ed25519');
    expect(verifySignature(parsed, body2, ed.publicKey)).toBe(false);
  });

  it('refuses to verify a detached signature without content', () => {
    const parsed = parseSignedData(header2);
    expect(() => verifySignature(parsed, undefined, signerKey(header2))).toThrow(CmsError);
    expect(() => verifySignature(parsed, undefined, signerKey(header2))).toThrow(/detached and no content/);
  });

  it('tolerates zero padding after the final end-of-contents, but nothing else', () => {
    expect(parseSignedData(Buffer.concat([header2, Buffer.alloc(4)])).signer.digest).toBe('sha1');
    expect(() => parseSignedData(Buffer.concat([header2, Buffer.from([0, 1])]))).toThrow(/2 bytes after the end of the ContentInfo/);
  });
});
