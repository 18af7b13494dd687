import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Ca, loadOrCreateCa, loadOrCreateServerCert } from '../../../server/pki';
import { dataDirWithCa, openssl, tempDirs } from '../../helpers/pki';

const tempDir = tempDirs('mdmsim-pki-server-');

let caDir: string;
let ca: Ca;
beforeAll(async () => {
  caDir = tempDir();
  ca = await loadOrCreateCa(caDir);
});

const dataDir = (): string => dataDirWithCa(tempDir, caDir);

function serverPem(dir: string): string {
  return path.join(dir, 'server.pem');
}

describe('loadOrCreateServerCert, first run', () => {
  let dir: string;
  let text: string;
  beforeAll(async () => {
    dir = dataDir();
    const result = await loadOrCreateServerCert(dir, ca, ['mdm.example.test', '10.1.2.3', 'fd00::5']);
    expect(result.reused).toBe(false);
    expect(result.reason).toMatch(/server\.pem does not exist/);
    expect(fs.readFileSync(serverPem(dir), 'utf8')).toBe(result.certPem);
    expect(fs.readFileSync(path.join(dir, 'server-key.pem'), 'utf8')).toBe(result.keyPem);
    text = openssl('x509', '-noout', '-text', '-in', serverPem(dir));
  });

  it('is a TLS server certificate that openssl verifies against ca.pem', () => {
    const out = openssl('verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', ca.certPath, serverPem(dir));
    expect(out.trim()).toBe(`${serverPem(dir)}: OK`);
  });

  it.each([
    ['-verify_hostname', 'localhost'],
    ['-verify_hostname', 'mdm.example.test'],
    ['-verify_ip', '127.0.0.1'],
    ['-verify_ip', '::1'],
    ['-verify_ip', '10.1.2.3'],
    ['-verify_ip', 'fd00::5'],
  ])('verifies for %s %s', (flag, host) => {
    expect(() => openssl('verify', flag, host, '-CAfile', ca.certPath, serverPem(dir))).not.toThrow();
  });

  it('does not verify for a host it does not cover', () => {
    expect(() =>
      openssl('verify', '-verify_hostname', 'other.example.test', '-CAfile', ca.certPath, serverPem(dir)),
    ).toThrow(/hostname mismatch/);
  });

  it('names its hosts as DNS and IP entries, the first host as CN', () => {
    expect(text).toContain('Subject: CN = mdm.example.test, O = mdmsim');
    expect(text).toContain('Issuer: CN = mdmsim Local CA, O = mdmsim');
    const sans = /X509v3 Subject Alternative Name:\s*\n\s*(.*)\n/.exec(text)?.[1].split(', ');
    expect(sans).toEqual([
      'DNS:mdm.example.test',
      'IP Address:10.1.2.3',
      'IP Address:FD00:0:0:0:0:0:0:5',
      'DNS:localhost',
      'IP Address:127.0.0.1',
      'IP Address:0:0:0:0:0:0:0:1',
    ]);
  });

  it('has the key usages of a TLS server and no CA powers', () => {
    expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
    expect(text).toContain('Public-Key: (2048 bit)');
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s+TLS Web Server Authentication\n/);
  });

  it("points at the CA's key identifier", () => {
    const caText = openssl('x509', '-noout', '-text', '-in', ca.certPath);
    const caKeyId = /X509v3 Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(caText)?.[1];
    expect(caKeyId).toBeDefined();
    expect(text).toMatch(new RegExp(`X509v3 Authority Key Identifier:\\s*\\n\\s*(keyid:)?${caKeyId}`));
  });

  it('is valid for 397 days from about now', () => {
    const x509 = new crypto.X509Certificate(fs.readFileSync(serverPem(dir)));
    const from = Date.parse(x509.validFrom);
    const to = Date.parse(x509.validTo);
    expect(Math.abs(from - Date.now())).toBeLessThan(10 * 60_000);
    expect(to - from).toBe(397 * 24 * 3600_000);
  });

  it('keeps the key owner-only', () => {
    if (process.platform === 'win32') return;
    expect(fs.statSync(path.join(dir, 'server-key.pem')).mode & 0o777).toBe(0o600);
  });
});

describe('loadOrCreateServerCert, hosts', () => {
  it('covers localhost, 127.0.0.1 and ::1 when given no hosts, with CN localhost', async () => {
    const dir = dataDir();
    await loadOrCreateServerCert(dir, ca, []);
    const text = openssl('x509', '-noout', '-text', '-in', serverPem(dir));
    expect(text).toContain('Subject: CN = localhost, O = mdmsim');
    expect(text).toContain('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1\n');
  });

  it('lists each host once however it is written', async () => {
    const dir = dataDir();
    await loadOrCreateServerCert(dir, ca, ['LOCALHOST', 'localhost.', '[::1]', '0:0::1', '127.0.0.1', 'Mdm.Test']);
    const text = openssl('x509', '-noout', '-text', '-in', serverPem(dir));
    expect(text).toContain('DNS:localhost, IP Address:0:0:0:0:0:0:0:1, IP Address:127.0.0.1, DNS:mdm.test\n');
  });

  it('refuses a host that is not a DNS name or IP address', async () => {
    await expect(loadOrCreateServerCert(dataDir(), ca, ['https://mdm.test:8443'])).rejects.toThrow(
      /invalid host "https:\/\/mdm\.test:8443".*expected a DNS name/,
    );
  });
});

describe('loadOrCreateServerCert, later runs', () => {
  it('reuses the files for the same hosts, or fewer', async () => {
    const dir = dataDir();
    const first = await loadOrCreateServerCert(dir, ca, ['mdm.example.test', '10.1.2.3']);
    const same = await loadOrCreateServerCert(dir, ca, ['mdm.example.test', '10.1.2.3']);
    const fewer = await loadOrCreateServerCert(dir, ca, ['10.1.2.3']);

    for (const again of [same, fewer]) {
      expect(again).toEqual({ certPem: first.certPem, keyPem: first.keyPem, reused: true });
    }
  });

  it('issues a new certificate for a new host, under the same CA', async () => {
    const dir = dataDir();
    const first = await loadOrCreateServerCert(dir, ca, ['mdm.example.test']);
    const caAgain = await loadOrCreateCa(dir);
    const second = await loadOrCreateServerCert(dir, caAgain, ['mdm.example.test', 'new.example.test']);

    expect(caAgain.fingerprint256).toBe(ca.fingerprint256);
    expect(second.reused).toBe(false);
    expect(second.reason).toMatch(/does not cover new\.example\.test/);
    expect(second.certPem).not.toBe(first.certPem);
    // Same key, so the agent's pin (the key's SPKI hash) survives a new name.
    expect(second.keyPem).toBe(first.keyPem);
    expect(second.reason).toMatch(/keeping the key in .*server-key\.pem/);
    expect(new crypto.X509Certificate(second.certPem).publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      new crypto.X509Certificate(first.certPem).publicKey.export({ type: 'spki', format: 'der' }),
    );
    expect(fs.readFileSync(serverPem(dir), 'utf8')).toBe(second.certPem);
    expect(() =>
      openssl('verify', '-verify_hostname', 'new.example.test', '-CAfile', ca.certPath, serverPem(dir)),
    ).not.toThrow();
  });

  it('reissues a certificate with 7 days or less left', async () => {
    const dir = dataDir();
    const first = await loadOrCreateServerCert(dir, ca, []);
    // Same key and hosts as the certificate it replaces; only the dates differ.
    const expiring = ca.issue({
      subject: [{ name: 'commonName', value: 'localhost' }],
      publicKey: crypto.createPrivateKey(first.keyPem),
      days: 6,
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }],
        },
      ],
    });
    fs.writeFileSync(serverPem(dir), expiring.certPem);

    const result = await loadOrCreateServerCert(dir, ca, []);
    expect(result.reused).toBe(false);
    expect(result.reason).toMatch(/within 7 days/);
    const validTo = Date.parse(new crypto.X509Certificate(result.certPem).validTo);
    expect(validTo - Date.now()).toBeGreaterThan(390 * 24 * 3600_000);
    expect(result.keyPem).toBe(first.keyPem);
  });

  it('reissues a certificate from another CA', async () => {
    const dir = dataDir();
    const otherCa = await loadOrCreateCa(tempDir());
    const foreign = await loadOrCreateServerCert(dir, otherCa, []);
    const result = await loadOrCreateServerCert(dir, ca, []);

    expect(result.reused).toBe(false);
    expect(result.reason).toMatch(/not issued by the current CA/);
    expect(result.certPem).not.toBe(foreign.certPem);
    expect(() => openssl('verify', '-CAfile', ca.certPath, serverPem(dir))).not.toThrow();
  });

  it.each([
    ['a key that does not match', () => ca.key.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['an unreadable key', () => 'not a key\n'],
  ])('reissues when server-key.pem holds %s', async (_what, damage) => {
    const dir = dataDir();
    await loadOrCreateServerCert(dir, ca, []);
    fs.writeFileSync(path.join(dir, 'server-key.pem'), damage());

    const result = await loadOrCreateServerCert(dir, ca, []);
    expect(result.reused).toBe(false);
    expect(result.reason).toMatch(/server-key\.pem/);
    expect(result.reason).not.toMatch(/keeping the key/);
    expect(result.keyPem).not.toBe(damage());
    expect(new crypto.X509Certificate(result.certPem).checkPrivateKey(crypto.createPrivateKey(result.keyPem))).toBe(true);
  });
});
