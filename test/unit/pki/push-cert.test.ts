import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Ca, loadOrCreateCa, loadOrCreatePushCert, PUSH_CERT_FILE, PUSH_KEY_FILE } from '../../../server/pki';
import { dataDirWithCa, openssl, tempDirs } from '../../helpers/pki';

const tempDir = tempDirs('mdmsim-pki-push-');

let caDir: string;
let ca: Ca;
beforeAll(async () => {
  caDir = tempDir();
  ca = await loadOrCreateCa(caDir);
});

const dataDir = (): string => dataDirWithCa(tempDir, caDir);

const TOPIC = /^com\.apple\.mgmt\.External\.[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('the MDM push certificate', () => {
  let dir: string;
  let text: string;
  let topic: string;
  beforeAll(async () => {
    dir = dataDir();
    const push = await loadOrCreatePushCert(dir, ca);
    topic = push.topic;
    expect(push.reused).toBe(false);
    expect(fs.readFileSync(path.join(dir, PUSH_CERT_FILE), 'utf8')).toBe(push.certPem);
    expect(fs.readFileSync(path.join(dir, PUSH_KEY_FILE), 'utf8')).toBe(push.keyPem);
    text = openssl('x509', '-noout', '-text', '-in', push.certPath);
  });

  it('has the topic com.apple.mgmt.External.<uuid> as its subject UID, as Apple issues them', () => {
    expect(topic).toMatch(TOPIC);
    const subject = openssl('x509', '-noout', '-subject', '-nameopt', 'RFC2253', '-in', path.join(dir, PUSH_CERT_FILE)).trim();
    expect(subject).toBe(`subject=C=US,CN=APSP:${topic.slice('com.apple.mgmt.External.'.length)},UID=${topic}`);
  });

  it("carries Apple's APNs extensions (development and production) and client authentication", () => {
    expect(text).toContain('1.2.840.113635.100.6.3.1');
    expect(text).toContain('1.2.840.113635.100.6.3.2');
    expect(text).toMatch(/Extended Key Usage:\s*\n\s*TLS Web Client Authentication/);
    expect(text).toMatch(/CA:FALSE/);
  });

  it('is a client certificate openssl verifies against ca.pem, and push-key.pem is its key', () => {
    expect(openssl('verify', '-purpose', 'sslclient', '-CAfile', ca.certPath, path.join(dir, PUSH_CERT_FILE)).trim()).toMatch(/: OK$/);
    const cert = new crypto.X509Certificate(fs.readFileSync(path.join(dir, PUSH_CERT_FILE)));
    expect(cert.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(path.join(dir, PUSH_KEY_FILE))))).toBe(true);
    expect((fs.statSync(path.join(dir, PUSH_KEY_FILE)).mode & 0o777).toString(8)).toBe('600');
  });

  it('is kept across restarts: same topic, same files', async () => {
    const before = fs.readFileSync(path.join(dir, PUSH_CERT_FILE), 'utf8');
    const again = await loadOrCreatePushCert(dir, ca);
    expect(again).toMatchObject({ reused: true, topic });
    expect(fs.readFileSync(path.join(dir, PUSH_CERT_FILE), 'utf8')).toBe(before);
  });
});

describe('push certificate renewal', () => {
  it('renews one within 30 days of expiry and keeps its topic, so enrollments keep working', async () => {
    const dir = dataDir();
    const first = await loadOrCreatePushCert(dir, ca);
    const key = crypto.createPrivateKey(first.keyPem);
    const expiring = ca.issue({
      subject: [{ type: '0.9.2342.19200300.100.1.1', value: first.topic } as never, { name: 'commonName', value: 'APSP:x' }],
      publicKey: key,
      days: 20,
      extensions: [],
    });
    fs.writeFileSync(first.certPath, expiring.certPem);
    const renewed = await loadOrCreatePushCert(dir, ca);
    expect(renewed.reused).toBe(false);
    expect(renewed.reason).toMatch(/within 30 days/);
    expect(renewed.topic).toBe(first.topic);
    expect(renewed.notAfter.getTime() - Date.now()).toBeGreaterThan(300 * 24 * 3600_000);
  });

  it('reissues, with the same topic, when the CA changed', async () => {
    const dir = dataDir();
    const first = await loadOrCreatePushCert(dir, ca);
    const otherCa = await loadOrCreateCa(tempDir());
    const renewed = await loadOrCreatePushCert(dir, otherCa);
    expect(renewed.reason).toMatch(/not issued by the current CA/);
    expect(renewed.topic).toBe(first.topic);
    expect(openssl('verify', '-CAfile', otherCa.certPath, renewed.certPath).trim()).toMatch(/: OK$/);
  });

  it('makes a new topic when the certificate is unreadable, and a new pair when the key is lost', async () => {
    const dir = dataDir();
    const first = await loadOrCreatePushCert(dir, ca);
    fs.rmSync(first.keyPath);
    const rekeyed = await loadOrCreatePushCert(dir, ca);
    expect(rekeyed.reason).toMatch(/push-key\.pem is missing/);
    expect(rekeyed.topic).toBe(first.topic);
    fs.writeFileSync(first.certPath, 'not a certificate');
    const fresh = await loadOrCreatePushCert(dir, ca);
    expect(fresh.reason).toMatch(/unreadable/);
    expect(fresh.topic).toMatch(TOPIC);
    expect(fresh.topic).not.toBe(first.topic);
  });
});
