import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createMdmSigner, signAttached } from '../../../protocol/cms';
import { VirtualClock } from '../../../protocol/clock';
import { ProblemError } from '../../../protocol/problem';
import { MdmSignatureVerifier } from '../../../server/auth/mdm-signature';
import { type Ca, type DeviceIdentity, issueDeviceIdentity, loadOrCreateCa } from '../../../server/pki';
import { openssl, tempDirs } from '../../helpers/pki';

const tempDir = tempDirs('mdmsim-auth-');
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const DAY = 24 * 3600_000;
const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../fixtures/captures/nanomdm/cryptoutil_mdm-signature-vectors.json'), 'utf8'));

let ca: Ca;
let otherCa: Ca;
beforeAll(async () => {
  ca = await loadOrCreateCa(tempDir());
  otherCa = await loadOrCreateCa(tempDir());
});

function refusal(fn: () => unknown): { code: string; status: number; message: string; field?: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProblemError) return error.problem;
    throw error;
  }
  throw new Error('expected a refusal, got none');
}

function verifier(clock = new VirtualClock({ start: T0 }), max?: number) {
  return new MdmSignatureVerifier({ caCertDer: ca.certDer, clock, maxCachedCertificates: max });
}

const body = Buffer.from('<?xml version="1.0"?><plist version="1.0"><dict><key>Status</key><string>Idle</string></dict></plist>');

describe('NanoMDM vectors (a real device signature: BER indefinite lengths, SHA-1, detached)', () => {
  const body2 = Buffer.from(vectors.mdmSignatureBody2_base64, 'base64');

  it('header2 verifies against body2 with its own signer, so the only complaint is the foreign CA', () => {
    // Refused after the signature check: the chain check comes last, so unknown-ca means
    // the signature over body2 was found good.
    expect(refusal(() => verifier().verify(vectors.mdmSignatureHeader2, body2))).toMatchObject({ status: 400, code: 'unknown-ca', field: 'Mdm-Signature' });
  });

  it('the same header over a changed body is a signature mismatch', () => {
    const tampered = Buffer.from(body2);
    tampered[tampered.length - 20] ^= 1;
    expect(refusal(() => verifier().verify(vectors.mdmSignatureHeader2, tampered)).code).toBe('signature-mismatch');
  });

  it('header1 parses (and does not match body2)', () => {
    expect(refusal(() => verifier().verify(vectors.mdmSignatureHeader1, body2)).code).toBe('signature-mismatch');
  });
});

describe.each(['rsa', 'ec'] as const)('signatures from an mdmsim identity (%s)', (keyType) => {
  let identity: DeviceIdentity;
  beforeAll(async () => {
    identity = await issueDeviceIdentity(ca, { keyType, now: T0 });
  });

  it.each(['sha256', 'sha1'] as const)('accepts a %s signature and names the signer by its SHA-256', (digest) => {
    const header = createMdmSigner(identity, { digest }).sign(body);
    const v = verifier();
    expect(v.verify(header, body)).toMatchObject({ sha256: identity.sha256, subject: expect.stringContaining('mdmsim device identity') });
    // Second time from the cache: same answer.
    expect(v.verify(header, body).sha256).toBe(identity.sha256);
  });

  it('refuses a body changed after signing', () => {
    const header = createMdmSigner(identity).sign(body);
    expect(refusal(() => verifier().verify(header, Buffer.concat([body, Buffer.from(' ')]))).code).toBe('signature-mismatch');
  });

  it('refuses a certificate once it has expired by the clock, and before it is valid', async () => {
    const clock = new VirtualClock({ start: T0 });
    const v = verifier(clock);
    const header = createMdmSigner(identity).sign(body);
    expect(v.verify(header, body).sha256).toBe(identity.sha256);
    await clock.advance(366 * DAY);
    expect(refusal(() => v.verify(header, body))).toMatchObject({ code: 'certificate-expired', message: expect.stringContaining('the clock says 2027-01-06') });
    const early = verifier(new VirtualClock({ start: T0 - DAY }));
    expect(refusal(() => early.verify(header, body)).code).toBe('certificate-not-yet-valid');
  });
});

describe('refusals', () => {
  it('a missing or empty header', () => {
    expect(refusal(() => verifier().verify(undefined, body))).toMatchObject({ status: 400, code: 'missing-signature', field: 'Mdm-Signature' });
    expect(refusal(() => verifier().verify('  ', body)).code).toBe('missing-signature');
  });

  it('a header that is not base64, or not CMS', () => {
    expect(refusal(() => verifier().verify('not base64 at all!', body)).code).toBe('malformed-signature');
    expect(refusal(() => verifier().verify(Buffer.from('hello world').toString('base64'), body)).code).toBe('malformed-signature');
  });

  it('a signature carrying its content instead of signing the body detached', async () => {
    const identity = await issueDeviceIdentity(ca, { keyType: 'ec', now: T0 });
    const attached = signAttached(body, identity).toString('base64');
    expect(refusal(() => verifier().verify(attached, body))).toMatchObject({ code: 'malformed-signature', message: expect.stringContaining('detached') });
  });

  it('an identity from another CA', async () => {
    const foreign = await issueDeviceIdentity(otherCa, { keyType: 'ec', now: T0 });
    expect(refusal(() => verifier().verify(createMdmSigner(foreign).sign(body), body))).toMatchObject({ code: 'unknown-ca', hint: expect.stringContaining('GET /mdm/enroll') });
  });

  it("a certificate from an impostor CA with the mdmsim CA's name", () => {
    // Same issuer name, different key: a check by name alone would pass it.
    const dir = tempDir();
    const f = (name: string) => path.join(dir, name);
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=mdmsim Local CA/O=mdmsim', '-days', '3650', '-keyout', f('ca-key.pem'), '-out', f('ca.pem'));
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=impostor', '-keyout', f('key.pem'), '-out', f('req.pem'));
    openssl('x509', '-req', '-in', f('req.pem'), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-days', '3650', '-out', f('cert.pem'));
    const certDer = new crypto.X509Certificate(fs.readFileSync(f('cert.pem'))).raw;
    const header = createMdmSigner({ certDer, privateKey: crypto.createPrivateKey(fs.readFileSync(f('key.pem'))) }).sign(body);
    expect(new crypto.X509Certificate(certDer).issuer).toBe(new crypto.X509Certificate(ca.certDer).subject);
    expect(refusal(() => verifier().verify(header, body)).code).toBe('unknown-ca');
  });
});

describe('the certificate cache', () => {
  it('keeps working past its size: evicted certificates are checked again', async () => {
    const v = verifier(undefined, 1);
    const a = await issueDeviceIdentity(ca, { keyType: 'ec', now: T0 });
    const b = await issueDeviceIdentity(ca, { keyType: 'ec', now: T0 });
    for (let i = 0; i < 3; i++) {
      expect(v.verify(createMdmSigner(a).sign(body), body).sha256).toBe(a.sha256);
      expect(v.verify(createMdmSigner(b).sign(body), body).sha256).toBe(b.sha256);
    }
  });
});
