/**
 * GET /mdm/enroll over real HTTPS: the profile is checked with the openssl binary (signature,
 * PKCS#12, chain) and against Apple's schema, as a user's own tooling would check it.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { parsePlist } from '../../protocol/plist';
import { isPlistDict, type PlistDict, type PlistValue } from '../../protocol/plist/types';
import { validateProfilePayload } from '../../protocol/schema';
import { openssl, tempDirs } from '../helpers/pki';
import { startTestServer, T0, type TestServer } from '../helpers/server';

const tempDir = tempDirs('mdmsim-enroll-');
const DAY = 24 * 3600_000;
const UUID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.stop());

interface Downloaded {
  dir: string;
  file: string;
  profile: PlistDict;
  payloads: PlistDict[];
  byType: (type: string) => PlistDict;
}

/** Downloads a profile and reads it the way a user would: openssl verifies and unwraps it. */
async function download(query = '', host?: string): Promise<Downloaded> {
  const body = host === undefined ? (await t.http.send('GET', `/mdm/enroll${query}`)).body : await getWithHost(`/mdm/enroll${query}`, host);
  const dir = tempDir();
  const file = path.join(dir, 'enroll.mobileconfig');
  fs.writeFileSync(file, body);
  openssl('smime', '-verify', '-inform', 'DER', '-in', file, '-CAfile', t.server.info.caCert, '-out', path.join(dir, 'profile.plist'));
  const profile = parsePlist(fs.readFileSync(path.join(dir, 'profile.plist'))) as PlistDict;
  const payloads = (profile.PayloadContent as PlistValue[]).filter(isPlistDict);
  return { dir, file, profile, payloads, byType: (type) => payloads.find((p) => p.PayloadType === type)! };
}

/** A GET whose Host header names another host than the one connected to (TLS still checks 127.0.0.1). */
function getWithHost(pathAndQuery: string, host: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(pathAndQuery, t.server.url), { ca: fs.readFileSync(t.server.info.caCert), servername: 'localhost', headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET → ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The PKCS#12 payload opened by openssl with the password from the payload: cert and key PEM files. */
function openIdentity(d: Downloaded): { certFile: string; keyFile: string } {
  const p12 = d.byType('com.apple.security.pkcs12');
  const p12File = path.join(d.dir, 'identity.p12');
  fs.writeFileSync(p12File, p12.PayloadContent as Buffer);
  const certFile = path.join(d.dir, 'identity.pem');
  const keyFile = path.join(d.dir, 'identity-key.pem');
  openssl('pkcs12', '-in', p12File, '-passin', `pass:${p12.Password as string}`, '-clcerts', '-nokeys', '-out', certFile);
  openssl('pkcs12', '-in', p12File, '-passin', `pass:${p12.Password as string}`, '-nocerts', '-nodes', '-out', keyFile);
  return { certFile, keyFile };
}

describe('GET /mdm/enroll', () => {
  let d: Downloaded;
  beforeAll(async () => {
    d = await download();
  });

  it('answers application/x-apple-aspen-config, as a download, never cached', async () => {
    const r = await t.http.send('GET', '/mdm/enroll');
    expect(r.headers['content-type']).toBe('application/x-apple-aspen-config');
    expect(r.headers['content-disposition']).toMatch(/attachment; filename="[^"]+\.mobileconfig"/);
    expect(r.headers['cache-control']).toBe('no-store');
  });

  it('is signed under ca.pem (openssl smime -verify), and not under another CA', async () => {
    const other = await startTestServer();
    try {
      expect(() => openssl('smime', '-verify', '-inform', 'DER', '-in', d.file, '-CAfile', other.server.info.caCert, '-out', path.join(d.dir, 'x'))).toThrow(/certificate verify error|unable to get local issuer/);
    } finally {
      await other.stop();
    }
  });

  it('is a configuration profile: the CA, then the identity, then the MDM payload', () => {
    expect(d.profile).toMatchObject({ PayloadType: 'Configuration', PayloadVersion: 1, PayloadIdentifier: expect.any(String), PayloadDisplayName: expect.any(String) });
    expect(d.profile.PayloadUUID).toMatch(UUID);
    expect(d.payloads.map((p) => p.PayloadType)).toEqual(['com.apple.security.root', 'com.apple.security.pkcs12', 'com.apple.mdm']);
    for (const p of d.payloads) {
      expect(p).toMatchObject({ PayloadVersion: 1, PayloadIdentifier: expect.any(String) });
      expect(p.PayloadUUID).toMatch(UUID);
    }
    expect(new Set(d.payloads.map((p) => p.PayloadUUID)).size).toBe(3);
    expect(Buffer.compare(d.byType('com.apple.security.root').PayloadContent as Buffer, t.http.caCertDer)).toBe(0);
  });

  it("has a com.apple.mdm payload valid against Apple's schema, with every setting the server needs", () => {
    const mdm = d.byType('com.apple.mdm');
    const result = validateProfilePayload('com.apple.mdm', mdm, { platform: 'macOS', osVersion: '14.4.1', strict: true });
    expect(result.errors).toEqual([]);
    expect(mdm).toMatchObject({
      IdentityCertificateUUID: d.byType('com.apple.security.pkcs12').PayloadUUID,
      Topic: t.server.pushCert.topic,
      // The tenant's device domain with the server's port (server/tenant/urls.ts).
      ServerURL: `${t.server.info.deviceUrls.mdm}/connect`,
      CheckInURL: `${t.server.info.deviceUrls.mdm}/checkin`,
      SignMessage: true,
      AccessRights: 8191,
      CheckOutWhenRemoved: true,
      ServerCapabilities: ['com.apple.mdm.bootstraptoken'],
    });
    expect(mdm.Topic).toMatch(/^com\.apple\.mgmt\.External\.[0-9a-f-]{36}$/);
    // The topic is push.pem's subject UID.
    expect(openssl('x509', '-noout', '-subject', '-nameopt', 'RFC2253', '-in', t.server.pushCert.certPath)).toContain(`UID=${mdm.Topic as string}`);
  });

  it('carries a PKCS#12 that opens with its password, holding a client identity that chains to ca.pem', () => {
    const { certFile, keyFile } = openIdentity(d);
    // Dates follow the lab clock, so the chain is checked here and the dates below.
    expect(openssl('verify', '-no_check_time', '-purpose', 'sslclient', '-CAfile', t.server.info.caCert, certFile).trim()).toMatch(/: OK$/);
    const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
    expect(cert.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(keyFile)))).toBe(true);
    expect(Date.parse(cert.validFrom)).toBeLessThanOrEqual(T0);
    expect(Date.parse(cert.validTo)).toBeGreaterThanOrEqual(T0 + 364 * DAY);
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('issues a fresh identity and password on every download, and records it', async () => {
    const before = t.server.events.query({ types: ['enroll.profile'] }).length;
    const [a, b] = await Promise.all([download('?key=ec'), download('?key=ec')]);
    const certOf = (x: Downloaded) => new crypto.X509Certificate(fs.readFileSync(openIdentity(x).certFile));
    expect(certOf(a).fingerprint256).not.toBe(certOf(b).fingerprint256);
    expect(a.byType('com.apple.security.pkcs12').Password).not.toBe(b.byType('com.apple.security.pkcs12').Password);
    const events = t.server.events.query({ types: ['enroll.profile'] }).slice(before);
    expect(events).toHaveLength(2);
    expect(events[0]!.data).toMatchObject({ keyType: 'ec', identityCertSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it.each([
    ['?key=ec', 'ec'],
    ['?key=rsa', 'rsa'],
  ])('%s gives an %s identity', async (query, type) => {
    const cert = new crypto.X509Certificate(fs.readFileSync(openIdentity(await download(query)).certFile));
    expect(cert.publicKey.asymmetricKeyType).toBe(type);
  });

  it('refuses an unknown key type with a 400 that names the choices', async () => {
    const r = await t.http.send('GET', '/mdm/enroll?key=dsa');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString()).error).toMatchObject({ code: 'bad-key-type', field: 'key', expected: 'rsa or ec' });
  });

  it("points the device at the tenant's device domain, whatever host it used to download the profile", async () => {
    for (const host of ['mdm.example.test:8443', 'evil.test/path?x', t.server.info.deviceUrls.enroll.replace(/^https:\/\/|\/mdm\/enroll$/g, '')]) {
      const d = await download('?key=ec', host);
      expect(d.byType('com.apple.mdm')).toMatchObject({ ServerURL: `${t.server.info.deviceUrls.mdm}/connect`, CheckInURL: `${t.server.info.deviceUrls.mdm}/checkin` });
    }
  });
});

describe('a server handing devices its listening address (deviceNames: listen)', () => {
  it('points the device at the host it used to download the profile, or the listening address for a malformed Host', async () => {
    const listen = await startTestServer({ deviceNames: 'listen' });
    const saved = t;
    t = listen;
    try {
      const named = await download('?key=ec', 'mdm.example.test:8443');
      expect(named.byType('com.apple.mdm')).toMatchObject({ ServerURL: 'https://mdm.example.test:8443/mdm/connect', CheckInURL: 'https://mdm.example.test:8443/mdm/checkin' });
      const junk = await download('?key=ec', 'evil.test/path?x');
      expect(junk.byType('com.apple.mdm').ServerURL).toBe(`${listen.server.url}/mdm/connect`);
    } finally {
      t = saved;
      await listen.stop();
    }
  });
});

describe('a server whose identities default to EC', () => {
  it('serves EC P-256 identities without being asked', async () => {
    const ec = await startTestServer({ identityKeyType: 'ec' });
    try {
      const r = await ec.http.send('GET', '/mdm/enroll');
      const dir = tempDir();
      fs.writeFileSync(path.join(dir, 'p'), r.body);
      openssl('smime', '-verify', '-inform', 'DER', '-in', path.join(dir, 'p'), '-CAfile', ec.server.info.caCert, '-out', path.join(dir, 'plist'));
      const p12 = (parsePlist(fs.readFileSync(path.join(dir, 'plist'))) as PlistDict).PayloadContent as PlistDict[];
      const identity = p12.find((p) => p.PayloadType === 'com.apple.security.pkcs12')!;
      fs.writeFileSync(path.join(dir, 'id.p12'), identity.PayloadContent as Buffer);
      const pem = openssl('pkcs12', '-in', path.join(dir, 'id.p12'), '-passin', `pass:${identity.Password as string}`, '-clcerts', '-nokeys');
      expect(new crypto.X509Certificate(pem).publicKey.asymmetricKeyType).toBe('ec');
    } finally {
      await ec.stop();
    }
  });
});

describe('a failure while issuing', () => {
  it('answers a JSON 500 and reports the error, and the next download works', async () => {
    const s = await startTestServer();
    try {
      const service = s.server.enrollment;
      const original = service.issueProfile.bind(service);
      service.issueProfile = () => Promise.reject(new Error('simulated failure'));
      const r = await s.http.send('GET', '/mdm/enroll');
      expect(r.status).toBe(500);
      expect(JSON.parse(r.body.toString()).error.code).toBe('internal-error');
      expect(s.errors.splice(0).map((e) => (e as Error).message)).toEqual(['simulated failure']);
      service.issueProfile = original;
      expect((await s.http.send('GET', '/mdm/enroll?key=ec')).status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});
