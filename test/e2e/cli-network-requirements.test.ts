/**
 * `mdmsim network requirements` and the tenant flags as a user runs them: child processes of
 * bin/mdmsim.js, the table on stdout, errors on stderr naming the flag or file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openEnrollmentProfile } from '../../protocol/enrollment-profile';
import { networkRequirements, type NetworkRequirement } from '../../protocol/network-requirements';
import { DEFAULT_ZONE, type Tenant } from '../../protocol/tenant';
import { TENANT_FILE } from '../../server/tenant/tenant-file';

const root = join(__dirname, '../..');
const bin = join(root, 'bin/mdmsim.js');
const ID = '0b9e4c1a-6a2f-4d1e-9c3b-7e5f2a1d8c64';
const TENANT: Tenant = { id: ID, subdomain: 'accuhive', region: 'us', zone: DEFAULT_ZONE, deviceDomainStyle: 'web-api' };

beforeAll(() => {
  if (!existsSync(join(root, 'dist/lab/cli.js'))) throw new Error('dist/ is missing: npm test builds it first (npm run build)');
});

function mdmsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('mdmsim network requirements', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-cli-req-'));
  beforeAll(() => writeFileSync(join(dataDir, TENANT_FILE), JSON.stringify(TENANT)));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prints the data dir tenant\'s table as JSON rows', () => {
    const r = mdmsim('network', 'requirements', '--data-dir', dataDir, '--format', 'json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(networkRequirements(TENANT));
  });

  it('--region eu prints the other region\'s table; csv is RFC 4180', () => {
    const r = mdmsim('network', 'requirements', '--data-dir', dataDir, '--region', 'eu', '--format', 'csv', '--port', '8443');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\r\n');
    expect(lines[0]).toBe('Domain,Ports,Protocol,OS,Description');
    expect(lines[1]).toBe('prd-eu.s3.mdmsim.test,8443,TCP,macOS,Downloads of the agent and the custom apps uploaded to this tenant');
    expect(lines.filter((l) => l.startsWith(`${ID}.devices.eu.mdmsim.test,8443,TCP,All,`))).toHaveLength(1);
    expect(lines).toContain('*.push.apple.com,"443, 5223",TCP,All,"Apple Push Notification service, device side: the persistent connection on 5223, 443 as its fallback (Apple: 17.0.0.0/8)"');
    // The file is only read: its region is still us.
    expect(JSON.parse(readFileSync(join(dataDir, TENANT_FILE), 'utf8')).region).toBe('us');
  });

  it('prints an aligned table by default, from flags alone when there is no data dir', () => {
    const r = mdmsim('network', 'requirements', '--data-dir', join(dataDir, 'missing'), '--tenant-id', ID, '--subdomain', 'accuhive', '--device-domain', 'devices');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Domain {2,}Ports {2,}Protocol {2,}OS {2,}Description$/);
    const rows: NetworkRequirement[] = networkRequirements({ ...TENANT, deviceDomainStyle: 'devices' });
    expect(lines.slice(2).map((l) => l.split(/ {2,}/)[0])).toEqual(rows.map((x) => x.domain));
    expect(lines.find((l) => l.startsWith(`${ID}.devices.us-1.mdmsim.test`))).toContain("This tenant's enrollments use this one");
  });

  it('fails clearly: no tenant anywhere, a bad flag named, an unknown format', () => {
    const none = mdmsim('network', 'requirements', '--data-dir', join(dataDir, 'missing'));
    expect(none.status).toBe(1);
    expect(none.stderr).toContain(`no tenant in ${join(dataDir, 'missing', TENANT_FILE)}`);
    expect(none.stdout).toBe('');
    const badId = mdmsim('network', 'requirements', '--tenant-id', 'nope');
    expect(badId.status).toBe(1);
    expect(badId.stderr).toContain("option '--tenant-id <uuid>' argument 'nope' is invalid. must be a UUID");
    const badRegion = mdmsim('network', 'requirements', '--data-dir', dataDir, '--region', 'apac');
    expect(badRegion.stderr).toContain("option '--region <region>' argument 'apac' is invalid. Allowed choices are us, eu.");
    const badFormat = mdmsim('network', 'requirements', '--data-dir', dataDir, '--format', 'xml');
    expect(badFormat.stderr).toContain("Allowed choices are table, json, csv");
  });
});

describe('mdmsim serve with tenant flags', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-cli-tenant-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts the tenant the flags name, says so in the ready line, and keeps it in the data dir; --device-names listen hands devices the listening address', async () => {
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dataDir, '--api-token', 't', '--log-level', 'silent', '--tenant-id', ID, '--subdomain', 'Acme', '--region', 'eu', '--zone', 'lab.example.test', '--device-domain', 'devices', '--device-names', 'listen'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`mdmsim serve exited with ${code}: ${stderr}`)));
      });
      const ready = JSON.parse(line);
      const port = new URL(ready.mdm).port;
      expect(ready.tenant).toEqual({ id: ID, subdomain: 'acme', region: 'eu', zone: 'lab.example.test', deviceDomain: 'devices' });
      expect(ready.deviceUrls.mdm).toBe(`https://${ID}.devices.eu.lab.example.test:${port}/mdm`);
      expect(ready.deviceUrls.enroll).toBe(`https://acme.web-api.eu.lab.example.test:${port}/mdm/enroll`);
      expect(JSON.parse(readFileSync(join(dataDir, TENANT_FILE), 'utf8'))).toEqual({ id: ID, subdomain: 'acme', region: 'eu', zone: 'lab.example.test', deviceDomainStyle: 'devices' });
      // The ready line shows the tenant forms; with --device-names listen, profiles point at the listening address.
      const profile = await new Promise<Buffer>((resolve, reject) => {
        https.get(ready.enroll, { ca: readFileSync(ready.caCert), agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        }).on('error', reject);
      });
      const opened = openEnrollmentProfile(profile, { trustedCaCerts: [new X509Certificate(readFileSync(ready.caCert)).raw] });
      expect(opened.mdm.ServerURL).toBe(`https://127.0.0.1:${port}/mdm/connect`);
      // network requirements reads the same data dir.
      const rows = JSON.parse(mdmsim('network', 'requirements', '--data-dir', dataDir, '--format', 'json').stdout) as NetworkRequirement[];
      expect(rows.find((x) => x.inUse)?.domain).toBe(`${ID}.devices.eu.lab.example.test`);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('refuses a bad flag naming it, before anything starts', () => {
    const r = mdmsim('serve', '--port', '0', '--data-dir', dataDir, '--subdomain', 'two.labels');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("option '--subdomain <name>' argument 'two.labels' is invalid. must be one DNS label");
  });
});
