import * as fs from 'node:fs';
import * as path from 'node:path';
import { findSignerCertificate, issuerAndSerialOf, parseSignedData, verifySignature } from '../../../protocol/cms';
import { openssl, tempDirs } from '../../helpers/pki';
import { makePki, type TestPki } from './identities';

// Signatures made by a signer mdmsim did not write: the openssl binary.

const tempDir = tempDirs('mdmsim-cms-openssl-');
let pki: TestPki;
let dir: string;

beforeAll(() => {
  dir = tempDir();
  pki = makePki(dir);
  fs.writeFileSync(path.join(dir, 'body.bin'), body);
});

const body = Buffer.from('<?xml version="1.0"?>\n<plist version="1.0"><dict><key>Status</key><string>Idle</string></dict></plist>\n'.repeat(20));

function opensslSign(which: 'rsa' | 'ec', ...flags: string[]): Buffer {
  const out = path.join(dir, `sig-${which}-${flags.join('')}.der`);
  const identity = pki[which];
  openssl('cms', '-sign', '-binary', '-in', path.join(dir, 'body.bin'), '-signer', identity.certPath, '-inkey', identity.keyPath, '-outform', 'DER', '-md', 'sha256', ...flags, '-out', out);
  return fs.readFileSync(out);
}

describe.each(['rsa', 'ec'] as const)('openssl cms -sign with the %s signer', (which) => {
  it.each([
    ['signed attributes', [] as string[]],
    ['-noattr', ['-noattr']],
  ])('detached, with %s: parses and verifies', (_label, flags) => {
    const parsed = parseSignedData(opensslSign(which, ...flags));
    expect(parsed.content).toBeUndefined();
    expect(parsed.signer.digest).toBe('sha256');
    expect(parsed.signer.keyType).toBe(which === 'rsa' ? 'rsa' : 'ecdsa');
    expect(parsed.signer.signedAttributes !== undefined).toBe(flags.length === 0);
    const cert = findSignerCertificate(parsed);
    expect(cert).toEqual(pki[which].certDer);
    expect(verifySignature(parsed, body, pki[which].publicKey)).toBe(true);
    const tampered = Buffer.from(body);
    tampered[body.length - 2] ^= 1;
    expect(verifySignature(parsed, tampered, pki[which].publicKey)).toBe(false);
  });

  it('with -keyid: the sid is the subject key identifier, matched against the certificate', () => {
    const parsed = parseSignedData(opensslSign(which, '-keyid'));
    expect(parsed.signer.sid.issuerAndSerial).toBeUndefined();
    expect(parsed.signer.sid.subjectKeyIdentifier).toEqual(issuerAndSerialOf(pki[which].certDer).subjectKeyIdentifier);
    expect(findSignerCertificate(parsed)).toEqual(pki[which].certDer);
    expect(verifySignature(parsed, body, pki[which].publicKey)).toBe(true);
  });

  it('streamed and attached (BER, indefinite lengths, chunked content): parses and verifies', () => {
    const ber = opensslSign(which, '-nodetach', '-stream');
    expect(ber.subarray(0, 2)).toEqual(Buffer.from([0x30, 0x80]));
    const parsed = parseSignedData(ber);
    expect(parsed.content).toEqual(body);
    expect(verifySignature(parsed, undefined, pki[which].publicKey)).toBe(true);
  });
});
