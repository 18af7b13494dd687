/**
 * Tenants on the wire: the data dir's tenant (made once, kept across restarts, flags saved,
 * a bad file refused), the server certificate covering its names, the ready line and
 * GET /sim/v1/tenant, and the URLs handed to devices on the tenant's names with the real port.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { AGENT_CHECKIN_PATH, AGENT_MANIFEST_PATH, publicKeyPin } from '../../protocol/agent';
import { openEnrollmentProfile } from '../../protocol/enrollment-profile';
import { parsePlist } from '../../protocol/plist';
import type { PlistDict } from '../../protocol/plist/types';
import { tenantCertificateNames, tenantDomains } from '../../protocol/tenant';
import { startServer, type MdmsimServer } from '../../server/server';
import { TENANT_FILE, TenantFileError } from '../../server/tenant/tenant-file';
import { freshId, PushableMac, startAgentServer } from '../helpers/agent';
import type { TestServer } from '../helpers/server';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function tempDir(): string {
  return fs.mkdtempSync(path.join(tmpdir(), 'mdmsim-tenant-'));
}

/**
 * A GET to the server's address with SNI and Host naming `name` (as a Mac whose resolver maps
 * the name to the server would send it): TLS is checked against that name. `host` overrides the
 * Host header alone.
 */
function getAs(server: MdmsimServer, name: string, pathAndQuery: string, host = name): Promise<{ status: number; body: Buffer; peer: tls.PeerCertificate }> {
  const port = new URL(server.url).port;
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: pathAndQuery, servername: name, headers: { host: `${host}:${port}` }, ca: fs.readFileSync(server.info.caCert), agent: false },
      (res) => {
        const peer = (res.socket as tls.TLSSocket).getPeerCertificate();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), peer }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function sansOf(certFile: string): string[] {
  return (new X509Certificate(fs.readFileSync(certFile)).subjectAltName ?? '').split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
}

describe('a server on an empty data dir', () => {
  let server: MdmsimServer;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = tempDir();
    server = await startServer({ port: 0, dataDir, apiToken: 'tenant-token', deviceNames: 'tenant' });
  });
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('makes a tenant, saves it as tenant.json, and shows it in the ready line with the tenant forms of the device URLs', () => {
    const t = server.tenant;
    expect(t).toMatchObject({ subdomain: 'mdmsim', region: 'us', zone: 'mdmsim.test', deviceDomainStyle: 'web-api' });
    expect(t.id).toMatch(UUID);
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, TENANT_FILE), 'utf8'))).toEqual(t);
    const port = new URL(server.url).port;
    const info = server.info;
    expect(info.tenant).toEqual({ id: t.id, subdomain: 'mdmsim', region: 'us', zone: 'mdmsim.test', deviceDomain: 'web-api' });
    expect(info.deviceUrls).toEqual({
      mdm: `https://${t.id}.web-api.mdmsim.test:${port}/mdm`,
      enroll: `https://mdmsim.web-api.mdmsim.test:${port}/mdm/enroll`,
      agentCheckin: `https://${t.id}.web-api.mdmsim.test:${port}${AGENT_CHECKIN_PATH}`,
      agentManifest: `https://prd.s3.mdmsim.test:${port}${AGENT_MANIFEST_PATH}`,
      customAppManifest: `https://prd.s3.mdmsim.test:${port}/apps/custom/manifest.plist`,
      autoAppManifest: `https://prd-managed-library-items.s3.mdmsim.test:${port}/apps/auto/manifest.plist`,
      webApp: `https://mdmsim.mdmsim.test:${port}/`,
    });
    // Direct clients still reach the listening address.
    expect(info.mdm).toBe(`https://127.0.0.1:${port}/mdm`);
    expect(info.enroll).toBe(`https://127.0.0.1:${port}/mdm/enroll`);
  });

  it('answers GET /sim/v1/tenant (bearer) with the tenant, its domains and the certificate names', async () => {
    const url = `${server.url}/sim/v1/tenant`;
    const ca = fs.readFileSync(server.info.caCert);
    const get = (headers: Record<string, string>) =>
      new Promise<{ status: number; json: any }>((resolve, reject) => {
        https.get(url, { ca, headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) }));
        }).on('error', reject);
      });
    const unauthorized = await get({});
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.json.error ?? unauthorized.json).toMatchObject({ code: 'unauthorized', field: 'Authorization' });
    const r = await get({ authorization: 'Bearer tenant-token' });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      tenant: server.tenant,
      domains: tenantDomains(server.tenant),
      certificateNames: tenantCertificateNames(server.tenant),
      deviceUrls: server.info.deviceUrls,
      deviceNames: 'tenant',
    });
  });

  it('serves a certificate that covers every tenant name (the *.iot wildcard included), checked by TLS itself', async () => {
    const d = tenantDomains(server.tenant);
    const names = [d.webApiDevice, d.devicesDevice, d.enrollment, d.webApp, d.agentDownloads, ...d.autoAppDownloads, 'eu-west-7.iot.mdmsim.test'];
    for (const name of names) {
      const r = await getAs(server, name, '/mdm/enroll?key=ec');
      expect(r.status).toBe(200);
      expect(tls.checkServerIdentity(name, r.peer)).toBeUndefined();
    }
    // The wildcard covers one label, as TLS clients match it: not the bare zone part, not two labels.
    const peer = (await getAs(server, d.enrollment, '/mdm/enroll?key=ec')).peer;
    expect(tls.checkServerIdentity('iot.mdmsim.test', peer)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(tls.checkServerIdentity('a.b.iot.mdmsim.test', peer)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(sansOf(path.join(dataDir, 'server.pem'))).toEqual(expect.arrayContaining(tenantCertificateNames(server.tenant)));
  });

  it('serves the profile for the enrollment name, pointing ServerURL and CheckInURL at the device domain with the real port', async () => {
    const port = new URL(server.url).port;
    const d = tenantDomains(server.tenant);
    // Whatever Host the request names, the profile points at the device domain.
    for (const [name, host] of [[d.enrollment, d.enrollment], ['localhost', '127.0.0.1'], ['localhost', 'anything.example.test']] as const) {
      const r = await getAs(server, name, '/mdm/enroll?key=ec', host);
      expect(r.status).toBe(200);
      const opened = openEnrollmentProfile(r.body, { trustedCaCerts: [new X509Certificate(fs.readFileSync(server.info.caCert)).raw] });
      expect(opened.mdm.ServerURL).toBe(`https://${d.webApiDevice}:${port}/mdm/connect`);
      expect(opened.mdm.CheckInURL).toBe(`https://${d.webApiDevice}:${port}/mdm/checkin`);
    }
  });
});

describe('the tenant across restarts', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('keeps the id across a restart; flags win and are saved; the certificate is reissued for the new names', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const first = await startServer({ port: 0, dataDir, apiToken: 't' });
    const id = first.tenant.id;
    await first.stop();
    const certBefore = fs.readFileSync(path.join(dataDir, 'server.pem'), 'utf8');

    const second = await startServer({ port: 0, dataDir, apiToken: 't' });
    expect(second.tenant.id).toBe(id);
    await second.stop();
    // Same names: the certificate from the first run was kept.
    expect(fs.readFileSync(path.join(dataDir, 'server.pem'), 'utf8')).toBe(certBefore);

    const eu = await startServer({ port: 0, dataDir, apiToken: 't', tenant: { region: 'eu', subdomain: 'Acme', deviceDomainStyle: 'devices' } });
    expect(eu.tenant).toEqual({ id, subdomain: 'acme', region: 'eu', zone: 'mdmsim.test', deviceDomainStyle: 'devices' });
    expect(eu.info.deviceUrls.mdm).toBe(`https://${id}.devices.eu.mdmsim.test:${new URL(eu.url).port}/mdm`);
    await eu.stop();
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, TENANT_FILE), 'utf8'))).toEqual(eu.tenant);
    expect(fs.readFileSync(path.join(dataDir, 'server.pem'), 'utf8')).not.toBe(certBefore);
    // The reissued certificate keeps the key: installed agents pin it, and a renamed tenant is no reason to fail them.
    expect(publicKeyPin(fs.readFileSync(path.join(dataDir, 'server.pem'), 'utf8'))).toBe(publicKeyPin(certBefore));
    expect(sansOf(path.join(dataDir, 'server.pem'))).toEqual(expect.arrayContaining([`${id}.devices.eu.mdmsim.test`, `${id}.web-api.eu.mdmsim.test`, 'acme.web-api.eu.mdmsim.test', '*.iot.eu.mdmsim.test', 'prd-eu.s3.mdmsim.test']));

    // Without flags the saved (EU) tenant is the one.
    const again = await startServer({ port: 0, dataDir, apiToken: 't' });
    expect(again.tenant).toEqual(eu.tenant);
    await again.stop();
  });

  it('refuses a bad tenant.json naming the file and the field, and listens on nothing', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const file = path.join(dataDir, TENANT_FILE);
    fs.writeFileSync(file, JSON.stringify({ id: '3f2c1d9e-8b7a-4c6d-9e5f-1a2b3c4d5e6f', subdomain: 'acme', region: 'apac' }));
    const start = startServer({ port: 0, dataDir, apiToken: 't' });
    await expect(start).rejects.toBeInstanceOf(TenantFileError);
    await expect(start).rejects.toMatchObject({ field: 'region', file, message: expect.stringContaining(`${file}: region must be us or eu, got "apac"`) });

    fs.writeFileSync(file, '{"id": ');
    await expect(startServer({ port: 0, dataDir, apiToken: 't' })).rejects.toThrow(`${file} is not valid JSON`);
    fs.writeFileSync(file, JSON.stringify({ subdomain: 'acme' }));
    await expect(startServer({ port: 0, dataDir, apiToken: 't' })).rejects.toMatchObject({ field: 'id', message: expect.stringContaining('"id" is missing') });
  });

  it('refuses a bad given value naming tenant.<field>, before touching the data dir', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    await expect(startServer({ port: 0, dataDir, apiToken: 't', tenant: { id: 'not-a-uuid' } })).rejects.toMatchObject({ problem: { field: 'tenant.id', code: 'bad-tenant' } });
    expect(fs.existsSync(path.join(dataDir, TENANT_FILE))).toBe(false);
  });
});

describe('URLs handed to devices', () => {
  let t: TestServer;
  const macs: PushableMac[] = [];
  beforeAll(async () => {
    t = await startAgentServer({ deviceNames: 'tenant', tenant: { id: '0b9e4c1a-6a2f-4d1e-9c3b-7e5f2a1d8c64', subdomain: 'accuhive' } });
  });
  afterAll(async () => {
    for (const m of macs) await m.close();
    await t?.stop();
  });

  it('puts the agent install on the tenant names: manifest on the agent-downloads name, check-in on the device domain; the manifest\'s package too', async () => {
    const port = new URL(t.server.url).port;
    const mac = await PushableMac.create(t, freshId(1));
    macs.push(mac);
    expect(mac.profile!.mdm.CheckInURL).toBe(`https://0b9e4c1a-6a2f-4d1e-9c3b-7e5f2a1d8c64.web-api.mdmsim.test:${port}/mdm/checkin`);
    await mac.enroll();
    await mac.nextPush();
    const command = await mac.idle();
    expect(command?.Command).toMatchObject({
      RequestType: 'InstallEnterpriseApplication',
      ManifestURL: `https://prd.s3.mdmsim.test:${port}${AGENT_MANIFEST_PATH}`,
      Configuration: { AgentCheckinURL: `https://0b9e4c1a-6a2f-4d1e-9c3b-7e5f2a1d8c64.web-api.mdmsim.test:${port}${AGENT_CHECKIN_PATH}` },
    });
    const manifest = await getAs(t.server, 'prd.s3.mdmsim.test', AGENT_MANIFEST_PATH);
    expect(manifest.status).toBe(200);
    const items = (parsePlist(manifest.body) as PlistDict).items as PlistDict[];
    const asset = (items[0]!.assets as PlistDict[])[0]!;
    expect(asset.url).toBe(`https://prd.s3.mdmsim.test:${port}${t.server.agentArtifacts.packagePath}`);
    const pkg = await getAs(t.server, 'prd.s3.mdmsim.test', t.server.agentArtifacts.packagePath);
    expect(pkg.body.equals(t.server.agentArtifacts.package)).toBe(true);
  });
});

describe('with deviceNames listen', () => {
  it('hands devices the address the profile was downloaded from, as before tenants', async () => {
    const dataDir = tempDir();
    const server = await startServer({ port: 0, dataDir, apiToken: 't', deviceNames: 'listen' });
    try {
      const r = await getAs(server, 'localhost', '/mdm/enroll?key=ec');
      const opened = openEnrollmentProfile(r.body, { trustedCaCerts: [new X509Certificate(fs.readFileSync(server.info.caCert)).raw] });
      expect(opened.mdm.ServerURL).toBe(`https://localhost:${new URL(server.url).port}/mdm/connect`);
      // The ready line still shows the tenant forms, for whoever resolves them.
      expect(server.info.deviceUrls.mdm).toContain(`.web-api.mdmsim.test:`);
    } finally {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
