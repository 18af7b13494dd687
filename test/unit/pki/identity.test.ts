import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Ca, type DeviceIdentity, issueDeviceIdentity, issueProfileSigner, KeyPool, loadOrCreateCa } from '../../../server/pki';
import { openssl, tempDirs } from '../../helpers/pki';

const tempDir = tempDirs('mdmsim-pki-identity-');
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const DAY = 24 * 3600_000;

let ca: Ca;
beforeAll(async () => {
  ca = await loadOrCreateCa(tempDir());
});

function writePem(pem: string): string {
  const file = path.join(tempDir(), 'cert.pem');
  fs.writeFileSync(file, pem);
  return file;
}

describe.each(['rsa', 'ec'] as const)('device identity (%s)', (keyType) => {
  it('is a client certificate issued by the CA, with its key and the expected key type', async () => {
    const identity = await issueDeviceIdentity(ca, { keyType, now: T0 });
    const x509 = new crypto.X509Certificate(identity.certDer);
    expect(x509.checkIssued(new crypto.X509Certificate(ca.certDer))).toBe(true);
    expect(x509.verify(new crypto.X509Certificate(ca.certDer).publicKey)).toBe(true);
    expect(x509.checkPrivateKey(identity.privateKey)).toBe(true);
    expect(x509.publicKey.asymmetricKeyType).toBe(keyType);
    expect(identity.sha256).toBe(crypto.createHash('sha256').update(identity.certDer).digest('hex'));
    // The chain itself, by openssl; dates are the lab clock's, so they are checked separately.
    const file = writePem(identity.certPem);
    expect(openssl('verify', '-no_check_time', '-purpose', 'sslclient', '-CAfile', ca.certPath, file).trim()).toMatch(/: OK$/);
    const text = openssl('x509', '-noout', '-text', '-in', file);
    expect(text).toMatch(/Key Usage: critical\s*\n\s*Digital Signature/);
    expect(text).toMatch(/TLS Web Client Authentication/);
  });

  it('is dated by the lab clock: valid from just before `now` for a year', async () => {
    const identity = await issueDeviceIdentity(ca, { keyType, now: T0 });
    const x509 = new crypto.X509Certificate(identity.certDer);
    expect(Date.parse(x509.validFrom)).toBeLessThanOrEqual(T0);
    expect(T0 - Date.parse(x509.validFrom)).toBeLessThanOrEqual(10 * 60_000);
    expect(Date.parse(x509.validTo)).toBeGreaterThanOrEqual(T0 + 364 * DAY);
  });

  it('is a new certificate and key every time', async () => {
    const [a, b] = await Promise.all([issueDeviceIdentity(ca, { keyType, now: T0 }), issueDeviceIdentity(ca, { keyType, now: T0 })]);
    expect(a.sha256).not.toBe(b.sha256);
    expect(new crypto.X509Certificate(a.certDer).serialNumber).not.toBe(new crypto.X509Certificate(b.certDer).serialNumber);
  });
});

describe('the subject key identifier', () => {
  it("is the SHA-1 of the certificate's own public key, for EC and RSA subjects (RFC 5280 method 1)", async () => {
    for (const keyType of ['ec', 'rsa'] as const) {
      const identity = await issueDeviceIdentity(ca, { keyType, now: T0 });
      const file = writePem(identity.certPem);
      const ski = openssl('x509', '-noout', '-ext', 'subjectKeyIdentifier', '-in', file).split('\n')[1].trim().replace(/:/g, '').toLowerCase();
      const spki = new crypto.X509Certificate(identity.certDer).publicKey.export({ type: 'spki', format: 'der' });
      const bits = keyType === 'ec' ? spki.subarray(spki.length - 65) : spki.subarray(spki.indexOf(Buffer.from([0x03, 0x82])) + 5);
      expect(ski).toBe(crypto.createHash('sha1').update(bits).digest('hex'));
    }
  });
});

describe('the profile signer', () => {
  it('is an EC certificate from the CA that S/MIME verification accepts as a signer', () => {
    const signer = issueProfileSigner(ca);
    const x509 = new crypto.X509Certificate(signer.certDer);
    expect(x509.publicKey.asymmetricKeyType).toBe('ec');
    const file = writePem(x509.toString());
    expect(openssl('verify', '-purpose', 'smimesign', '-CAfile', ca.certPath, file).trim()).toMatch(/: OK$/);
  });
});

describe('the opt-in key pool', () => {
  const spki = (identity: DeviceIdentity) => new crypto.X509Certificate(identity.certDer).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');

  it.each(['ec', 'rsa'] as const)('reuses its %s key pairs in turn, each identity with its own certificate', async (keyType) => {
    const keyPool = new KeyPool(keyType, 2);
    const ids: DeviceIdentity[] = [];
    for (let i = 0; i < 5; i++) ids.push(await issueDeviceIdentity(ca, { keyType, now: T0, keyPool }));
    expect(new Set(ids.map((i) => i.sha256)).size).toBe(5);
    expect(new Set(ids.map(spki)).size).toBe(2);
    expect(spki(ids[2])).toBe(spki(ids[0]));
    expect(spki(ids[3])).toBe(spki(ids[1]));
    for (const id of ids) expect(new crypto.X509Certificate(id.certDer).checkPrivateKey(id.privateKey)).toBe(true);
  });

  it('refuses a pool of the wrong key type or of no keys', async () => {
    await expect(issueDeviceIdentity(ca, { keyType: 'rsa', now: T0, keyPool: new KeyPool('ec', 1) })).rejects.toThrow(/holds ec keys, not rsa/);
    expect(() => new KeyPool('ec', 0)).toThrow(RangeError);
  });
});
