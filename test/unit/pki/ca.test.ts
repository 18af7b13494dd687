import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Ca, loadOrCreateCa, loadOrCreateServerCert, PkiError } from '../../../server/pki';
import { openssl, tempDirs } from '../../helpers/pki';

const tempDir = tempDirs('mdmsim-pki-ca-');

// One CA created the way a first run creates it; most tests work on copies of its files, which
// keeps RSA key generation (tens of milliseconds each) out of them.
let firstRunDir: string;
let firstRun: Ca;
beforeAll(async () => {
  firstRunDir = path.join(tempDir(), 'nested', 'data');
  firstRun = await loadOrCreateCa(firstRunDir);
});

/** A fresh data dir holding a copy of the first-run CA. */
function copyOfFirstRun(): { dir: string; certPath: string; keyPath: string } {
  const dir = tempDir();
  for (const file of ['ca.pem', 'ca-key.pem']) fs.copyFileSync(path.join(firstRunDir, file), path.join(dir, file));
  return { dir, certPath: path.join(dir, 'ca.pem'), keyPath: path.join(dir, 'ca-key.pem') };
}

/** Makes a file look written long ago, not by a process that is still creating the CA. */
function age(file: string): void {
  const anHourAgo = new Date(Date.now() - 3600_000);
  fs.utimesSync(file, anHourAgo, anHourAgo);
}

async function expectPkiError(promise: Promise<unknown>, file: string, ...fragments: RegExp[]): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PkiError);
  expect((err as PkiError).file).toBe(file);
  for (const fragment of fragments) expect((err as Error).message).toMatch(fragment);
}

describe('loadOrCreateCa, first run', () => {
  it('creates a self-signed RSA 2048 SHA-256 CA that openssl verifies', () => {
    const caPem = path.join(firstRunDir, 'ca.pem');
    expect(firstRun.certPath).toBe(caPem);
    expect(openssl('verify', '-x509_strict', '-CAfile', caPem, caPem).trim()).toBe(`${caPem}: OK`);

    const text = openssl('x509', '-noout', '-text', '-in', caPem);
    expect(text).toContain('Subject: CN = mdmsim Local CA, O = mdmsim');
    expect(text).toContain('Issuer: CN = mdmsim Local CA, O = mdmsim');
    expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
    expect(text).toContain('Public-Key: (2048 bit)');
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toMatch(/X509v3 Subject Key Identifier:\s+[0-9A-F:]{59}/);
  });

  it('uses a random positive 16-byte serial and a 10-year validity', () => {
    const serial = openssl('x509', '-noout', '-serial', '-in', firstRun.certPath).trim();
    expect(serial).toMatch(/^serial=[0-7][0-9A-F]{31}$/);
    expect(serial).not.toMatch(/^serial=00/);

    const { notBefore, notAfter } = firstRun.cert.validity;
    expect(Math.abs(notBefore.getTime() - Date.now())).toBeLessThan(10 * 60_000);
    expect(notAfter.getUTCFullYear() - notBefore.getUTCFullYear()).toBe(10);
  });

  it('writes the key as owner-only PKCS#8 in an owner-only directory', () => {
    const keyPath = path.join(firstRunDir, 'ca-key.pem');
    expect(fs.readFileSync(keyPath, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    if (process.platform !== 'win32') {
      expect(fs.statSync(keyPath).mode & 0o777).toBe(0o600);
      expect(fs.statSync(firstRunDir).mode & 0o777).toBe(0o700);
    }
    expect(fs.readdirSync(firstRunDir).sort()).toEqual(['ca-key.pem', 'ca.pem']);
  });

  it('exposes the certificate as PEM, DER, forge object and fingerprint, with the matching key', () => {
    const x509 = new crypto.X509Certificate(firstRun.certPem);
    expect(firstRun.certPem).toBe(fs.readFileSync(firstRun.certPath, 'utf8'));
    expect(firstRun.certDer.equals(x509.raw)).toBe(true);
    expect(firstRun.fingerprint256).toBe(x509.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(firstRun.fingerprint256).toMatch(/^[0-9a-f]{64}$/);
    expect(firstRun.cert.subject.getField('CN').value).toBe('mdmsim Local CA');
    expect(x509.checkPrivateKey(firstRun.key)).toBe(true);
  });

  it('hands concurrent first runs the same CA', async () => {
    const dir = tempDir();
    const cas = await Promise.all([loadOrCreateCa(dir), loadOrCreateCa(dir), loadOrCreateCa(dir)]);
    expect(new Set(cas.map((ca) => ca.fingerprint256)).size).toBe(1);
    expect(fs.readdirSync(dir).sort()).toEqual(['ca-key.pem', 'ca.pem']);
  });
});

describe('loadOrCreateCa, later runs', () => {
  it('reuses the files', async () => {
    const { dir, keyPath } = copyOfFirstRun();
    const keyBefore = fs.readFileSync(keyPath, 'utf8');
    const again = await loadOrCreateCa(dir);

    expect(again.fingerprint256).toBe(firstRun.fingerprint256);
    expect(again.certPem).toBe(firstRun.certPem);
    expect(fs.readFileSync(keyPath, 'utf8')).toBe(keyBefore);
  });

  it('accepts a key that another tool rewrote in PKCS#1 form', async () => {
    const { dir, keyPath } = copyOfFirstRun();
    fs.writeFileSync(keyPath, firstRun.key.export({ type: 'pkcs1', format: 'pem' }));
    expect((await loadOrCreateCa(dir)).fingerprint256).toBe(firstRun.fingerprint256);
  });
});

describe('loadOrCreateCa, broken files', () => {
  it('rejects a ca-key.pem that belongs to another certificate, saying what to delete', async () => {
    const { dir, keyPath } = copyOfFirstRun();
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    fs.writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));

    await expectPkiError(
      loadOrCreateCa(dir),
      keyPath,
      /ca-key\.pem does not match .*ca\.pem/,
      /Delete .*ca\.pem and .*ca-key\.pem/,
    );
  });

  // Spots in the base64 body: around the private exponent, the primes, the CRT values.
  it.each([0.3, 0.5, 0.6, 0.8, 0.95])('rejects a ca-key.pem with bytes changed at %p of the file', async (at) => {
    const { dir, keyPath } = copyOfFirstRun();
    const pem = fs.readFileSync(keyPath, 'utf8');
    const offset = Math.floor(pem.length * at);
    const original = pem.slice(offset, offset + 8);
    const replacement = original === 'AAAAAAAA' ? 'BBBBBBBB' : 'AAAAAAAA';
    expect(original).toMatch(/^[A-Za-z0-9+/]{8}$/); // still inside the base64, not a header
    fs.writeFileSync(keyPath, pem.slice(0, offset) + replacement + pem.slice(offset + 8));

    await expectPkiError(loadOrCreateCa(dir), keyPath, /ca-key\.pem/, /Delete /);
  });

  it('rejects a ca-key.pem that is not a key at all', async () => {
    const { dir, keyPath } = copyOfFirstRun();
    fs.writeFileSync(keyPath, 'hello\n');
    await expectPkiError(loadOrCreateCa(dir), keyPath, /ca-key\.pem is not a readable private key/, /Delete /);
  });

  it('rejects a corrupt ca.pem', async () => {
    const { dir, certPath } = copyOfFirstRun();
    fs.writeFileSync(certPath, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    await expectPkiError(loadOrCreateCa(dir), certPath, /ca\.pem is not a readable certificate/, /Delete /);
  });

  it('rejects a ca.pem that is not a CA', async () => {
    const { dir, certPath, keyPath } = copyOfFirstRun();
    const leaf = await loadOrCreateServerCert(dir, firstRun, []);
    fs.writeFileSync(certPath, leaf.certPem);
    fs.writeFileSync(keyPath, leaf.keyPem);
    await expectPkiError(loadOrCreateCa(dir), certPath, /is not a CA certificate/);
  });

  it('rejects a key without its certificate instead of silently making a new CA', async () => {
    const { dir, certPath, keyPath } = copyOfFirstRun();
    fs.rmSync(certPath);
    age(keyPath);
    await expectPkiError(
      loadOrCreateCa(dir),
      certPath,
      /ca-key\.pem exists but .*ca\.pem does not/,
      /delete .*ca-key\.pem/,
    );
  });

  it('rejects a certificate without its key', async () => {
    const { dir, keyPath } = copyOfFirstRun();
    fs.rmSync(keyPath);
    await expectPkiError(loadOrCreateCa(dir), keyPath, /ca\.pem exists but .*ca-key\.pem does not/);
  });

  it('says what to do when the data directory cannot be used', async () => {
    const file = path.join(tempDir(), 'a-file');
    fs.writeFileSync(file, 'not a directory');
    for (const dir of [file, path.join(file, 'below')]) {
      await expectPkiError(loadOrCreateCa(dir), dir, /cannot write .* data directory/, /--data-dir/);
    }
  });

  it('creates a new CA once the user deletes both files', async () => {
    const { dir, certPath, keyPath } = copyOfFirstRun();
    fs.rmSync(certPath);
    fs.rmSync(keyPath);
    expect((await loadOrCreateCa(dir)).fingerprint256).not.toBe(firstRun.fingerprint256);
  });
});
