/**
 * A tenant and its names (protocol/tenant.ts), its file in the data dir (server/tenant/tenant-file.ts)
 * and the one place device URLs are chosen (server/tenant/urls.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProblemError } from '../../protocol/problem';
import { DEFAULT_ZONE, hostMatches, isHostName, isTenantLabel, parseTenant, parseTenantHost, tenantCertificateNames, tenantDomains, type Tenant } from '../../protocol/tenant';
import { loadOrCreateTenant, parseTenantFile, readTenantFile, TENANT_FILE, TenantFileError } from '../../server/tenant/tenant-file';
import { DeviceUrls } from '../../server/tenant/urls';

const ID = '3f2c1d9e-8b7a-4c6d-9e5f-1a2b3c4d5e6f';
const US: Tenant = { id: ID, subdomain: 'accuhive', region: 'us', zone: DEFAULT_ZONE, deviceDomainStyle: 'web-api' };
const EU: Tenant = { ...US, region: 'eu' };

describe('tenantDomains', () => {
  it('names a US tenant as the guide does, under the zone', () => {
    expect(tenantDomains(US)).toEqual({
      webApiDevice: `${ID}.web-api.mdmsim.test`,
      devicesDevice: `${ID}.devices.us-1.mdmsim.test`,
      device: `${ID}.web-api.mdmsim.test`,
      enrollment: 'accuhive.web-api.mdmsim.test',
      webApp: 'accuhive.mdmsim.test',
      agentDownloads: 'prd.s3.mdmsim.test',
      autoAppDownloads: ['prd-managed-library-items.s3.mdmsim.test', 'managed-library.mdmsim.test'],
      telemetry: '*.iot.mdmsim.test',
    });
  });

  it('puts eu in every EU name, and devices.eu (not devices.us-1) in the newer device domain', () => {
    expect(tenantDomains(EU)).toEqual({
      webApiDevice: `${ID}.web-api.eu.mdmsim.test`,
      devicesDevice: `${ID}.devices.eu.mdmsim.test`,
      device: `${ID}.web-api.eu.mdmsim.test`,
      enrollment: 'accuhive.web-api.eu.mdmsim.test',
      webApp: 'accuhive.eu.mdmsim.test',
      agentDownloads: 'prd-eu.s3.mdmsim.test',
      autoAppDownloads: ['prd-eu-managed-library-items.s3.mdmsim.test', 'managed-library.eu.mdmsim.test'],
      telemetry: '*.iot.eu.mdmsim.test',
    });
  });

  it('gives enrollments the devices form when the tenant says so, and uses another zone', () => {
    expect(tenantDomains({ ...US, deviceDomainStyle: 'devices' }).device).toBe(`${ID}.devices.us-1.mdmsim.test`);
    expect(tenantDomains({ ...EU, deviceDomainStyle: 'devices', zone: 'lab.example.test' }).device).toBe(`${ID}.devices.eu.lab.example.test`);
  });

  it('lists every name a server certificate must cover, both device forms and the telemetry wildcard', () => {
    expect(tenantCertificateNames(US)).toEqual([
      `${ID}.web-api.mdmsim.test`,
      `${ID}.devices.us-1.mdmsim.test`,
      'accuhive.web-api.mdmsim.test',
      'accuhive.mdmsim.test',
      'prd.s3.mdmsim.test',
      'prd-managed-library-items.s3.mdmsim.test',
      'managed-library.mdmsim.test',
      '*.iot.mdmsim.test',
    ]);
  });
});

describe('hostMatches', () => {
  it('matches exact names case-blind and wildcards below their domain, never the domain itself', () => {
    expect(hostMatches('prd.s3.mdmsim.test', 'PRD.s3.mdmsim.test.')).toBe(true);
    expect(hostMatches('*.iot.mdmsim.test', 'a.iot.mdmsim.test')).toBe(true);
    expect(hostMatches('*.iot.mdmsim.test', 'iot.mdmsim.test')).toBe(false);
    expect(hostMatches('*.iot.mdmsim.test', 'xiot.mdmsim.test')).toBe(false);
  });
});

describe('parseTenantHost', () => {
  it('reads back every device domain and the enrollment name tenantDomains writes, in both regions and any zone', () => {
    for (const zone of [DEFAULT_ZONE, 'lab.example.test', 'eu.test']) {
      for (const t of [{ ...US, zone }, { ...EU, zone }]) {
        const d = tenantDomains(t);
        expect(parseTenantHost(d.webApiDevice)).toEqual({ kind: 'web-api-device', id: ID, region: t.region, zone });
        expect(parseTenantHost(d.devicesDevice)).toEqual({ kind: 'devices-device', id: ID, region: t.region, zone });
        expect(parseTenantHost(d.enrollment)).toEqual({ kind: 'enrollment', subdomain: 'accuhive', region: t.region, zone });
        expect(parseTenantHost(d.enrollment.toUpperCase() + '.')).toEqual(parseTenantHost(d.enrollment));
      }
    }
  });

  it('keeps the zone at two labels or more: `eu` before a one-label rest is part of a US zone', () => {
    expect(parseTenantHost(`${ID}.web-api.eu.test`)).toEqual({ kind: 'web-api-device', id: ID, region: 'us', zone: 'eu.test' });
    expect(parseTenantHost(`${ID}.devices.eu.test`)).toBeUndefined();
  });

  it.each([
    ['the web app', 'accuhive.mdmsim.test'],
    ['the downloads', 'prd.s3.mdmsim.test'],
    ['a devices name of another region', `${ID}.devices.us-2.mdmsim.test`],
    ['a devices name without a UUID', 'accuhive.devices.us-1.mdmsim.test'],
    ['a zone of one label', 'accuhive.web-api.test'],
    ['an underscore in the subdomain', 'accu_hive.web-api.mdmsim.test'],
    ['not a host name', 'a b.web-api.mdmsim.test'],
    ['an IP address', '127.0.0.1'],
  ])('is undefined for %s', (_what, host) => {
    expect(parseTenantHost(host)).toBeUndefined();
  });
});

describe('the host-name rule', () => {
  it('takes letters, digits, inner hyphens and underscores, 63 to a label, 253 in all; a wildcard only when asked', () => {
    expect(isHostName('host_with_underscore.lan')).toBe(true);
    expect(isHostName('127.0.0.1')).toBe(true);
    expect(isHostName(`${'a'.repeat(63)}.test`)).toBe(true);
    expect(isHostName(`${'a'.repeat(64)}.test`)).toBe(false);
    expect(isHostName(Array(64).fill('abc').join('.'))).toBe(false);
    expect(isHostName('-a.test')).toBe(false);
    expect(isHostName('a..test')).toBe(false);
    expect(isHostName('*.iot.mdmsim.test')).toBe(false);
    expect(isHostName('*.iot.mdmsim.test', { wildcard: true })).toBe(true);
    expect(isHostName('a.*.test', { wildcard: true })).toBe(false);
  });

  it('keeps names handed to devices to RFC 1123: no underscore in a tenant label', () => {
    expect(isTenantLabel('accuhive')).toBe(true);
    expect(isTenantLabel('accu_hive')).toBe(false);
    expect(() => parseTenant({ id: ID, subdomain: 'accu_hive' })).toThrow(ProblemError);
    expect(() => parseTenant({ id: ID, subdomain: 'a', zone: 'my_lab.test' })).toThrow(/zone must be a DNS name/);
  });
});

describe('parseTenant', () => {
  it('normalises case and whitespace and fills region, zone and style', () => {
    expect(parseTenant({ id: ` ${ID.toUpperCase()} `, subdomain: 'AccuHive' })).toEqual(US);
  });

  it.each([
    [{ id: 'nope', subdomain: 'a' }, 'tenant.id'],
    [{ id: ID, subdomain: 'two.labels' }, 'tenant.subdomain'],
    [{ id: ID, subdomain: '-bad' }, 'tenant.subdomain'],
    [{ id: ID, subdomain: 'a', region: 'apac' }, 'tenant.region'],
    [{ id: ID, subdomain: 'a', zone: 'single' }, 'tenant.zone'],
    [{ id: ID, subdomain: 'a', zone: 'bad_label.test' }, 'tenant.zone'],
    [{ id: ID, subdomain: 'a', deviceDomainStyle: 'both' }, 'tenant.deviceDomainStyle'],
  ])('refuses %j naming %s', (value, field) => {
    let error: unknown;
    try {
      parseTenant(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProblemError);
    expect((error as ProblemError).problem).toMatchObject({ status: 400, code: 'bad-tenant', field, expected: expect.any(String) });
  });
});

describe('the tenant file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdmsim-tenant-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is made once with a fresh UUID and the defaults, then read back as it is', async () => {
    const made = await loadOrCreateTenant(dir);
    expect(made.file).toBe('created');
    expect(made.tenant).toMatchObject({ subdomain: 'mdmsim', region: 'us', zone: DEFAULT_ZONE, deviceDomainStyle: 'web-api' });
    const read = await loadOrCreateTenant(dir);
    expect(read).toEqual({ tenant: made.tenant, file: 'read', path: join(dir, TENANT_FILE) });
    expect(await readTenantFile(dir)).toEqual(made.tenant);
  });

  it('takes given values over the file and saves them; the same values again leave it alone', async () => {
    const made = await loadOrCreateTenant(dir, { subdomain: 'acme' });
    expect(made.tenant.subdomain).toBe('acme');
    const updated = await loadOrCreateTenant(dir, { region: 'eu', zone: 'Lab.Example.Test.' });
    expect(updated).toMatchObject({ file: 'updated', tenant: { id: made.tenant.id, subdomain: 'acme', region: 'eu', zone: 'lab.example.test' } });
    expect(JSON.parse(readFileSync(join(dir, TENANT_FILE), 'utf8'))).toEqual(updated.tenant);
    expect((await loadOrCreateTenant(dir, { region: 'eu' })).file).toBe('read');
  });

  it('makes one tenant when two starts race on an empty data dir', async () => {
    const [a, b] = await Promise.all([loadOrCreateTenant(dir), loadOrCreateTenant(dir)]);
    expect(a.tenant).toEqual(b.tenant);
  });

  it.each([
    ['not json', '{', undefined, 'is not valid JSON'],
    ['an array', '[]', undefined, 'must hold a JSON object'],
    ['no id', '{"subdomain":"a"}', 'id', '"id" is missing'],
    ['a bad id', `{"id":"x","subdomain":"a"}`, 'id', 'id must be a UUID, got "x"'],
    ['a bad region', `{"id":"${ID}","subdomain":"a","region":"mars"}`, 'region', 'region must be us or eu, got "mars"'],
    ['a bad style', `{"id":"${ID}","subdomain":"a","deviceDomainStyle":1}`, 'deviceDomainStyle', 'deviceDomainStyle must be web-api or devices'],
  ])('refuses %s, naming the file and the field', (_what, text, field, message) => {
    const file = join(dir, TENANT_FILE);
    let error: unknown;
    try {
      parseTenantFile(text, file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TenantFileError);
    expect(error).toMatchObject({ file, field, message: expect.stringContaining(message) });
    expect((error as Error).message).toContain(file);
  });

  it('fails the load on a bad file rather than replacing it', async () => {
    writeFileSync(join(dir, TENANT_FILE), '{"id": 1}');
    await expect(loadOrCreateTenant(dir)).rejects.toBeInstanceOf(TenantFileError);
    expect(readFileSync(join(dir, TENANT_FILE), 'utf8')).toBe('{"id": 1}');
  });
});

describe('DeviceUrls', () => {
  it('with tenant names: MDM and the agent on the device domain, downloads on the agent-downloads name, the real port', () => {
    const urls = new DeviceUrls(US, 'tenant', () => 'https://127.0.0.1:8443');
    expect(urls.deviceBase()).toBe(`https://${ID}.web-api.mdmsim.test:8443`);
    expect(urls.downloadsBase()).toBe('https://prd.s3.mdmsim.test:8443');
    expect(urls.agentCheckinUrl()).toBe(`https://${ID}.web-api.mdmsim.test:8443/agent/v1/checkin`);
    expect(urls.agentManifestUrl()).toBe('https://prd.s3.mdmsim.test:8443/agent/manifest.plist');
    // The sample apps: the custom app with the agent, the Auto App on the first Auto Apps name.
    expect(urls.sampleAppManifestUrl('custom-app')).toBe('https://prd.s3.mdmsim.test:8443/apps/custom/manifest.plist');
    expect(urls.sampleAppManifestUrl('auto-app')).toBe('https://prd-managed-library-items.s3.mdmsim.test:8443/apps/auto/manifest.plist');
    // Whatever Host the profile was downloaded with.
    expect(urls.profileBase('evil.example:1')).toBe(`https://${ID}.web-api.mdmsim.test:8443`);
    expect(urls.profileBase(undefined)).toBe(`https://${ID}.web-api.mdmsim.test:8443`);
  });

  it('writes no port for 443, as URL origins do', () => {
    const urls = new DeviceUrls({ ...EU, deviceDomainStyle: 'devices' }, 'tenant', () => 'https://[::1]:443');
    expect(urls.deviceBase()).toBe(`https://${ID}.devices.eu.mdmsim.test`);
    expect(urls.tenantUrls()).toEqual({
      mdm: `https://${ID}.devices.eu.mdmsim.test/mdm`,
      enroll: 'https://accuhive.web-api.eu.mdmsim.test/mdm/enroll',
      agentCheckin: `https://${ID}.devices.eu.mdmsim.test/agent/v1/checkin`,
      agentManifest: 'https://prd-eu.s3.mdmsim.test/agent/manifest.plist',
      customAppManifest: 'https://prd-eu.s3.mdmsim.test/apps/custom/manifest.plist',
      autoAppManifest: 'https://prd-eu-managed-library-items.s3.mdmsim.test/apps/auto/manifest.plist',
      webApp: 'https://accuhive.eu.mdmsim.test/',
    });
  });

  it('with listening names: the listening address, and the profile follows a well-formed Host', () => {
    const urls = new DeviceUrls(US, 'listen', () => 'https://127.0.0.1:8443');
    expect(urls.deviceBase()).toBe('https://127.0.0.1:8443');
    expect(urls.agentManifestUrl()).toBe('https://127.0.0.1:8443/agent/manifest.plist');
    expect(urls.sampleAppManifestUrl('auto-app')).toBe('https://127.0.0.1:8443/apps/auto/manifest.plist');
    expect(urls.profileBase('mdm.example.test:9443')).toBe('https://mdm.example.test:9443');
    expect(urls.profileBase('[::1]:8443')).toBe('https://[::1]:8443');
    expect(urls.profileBase('bad host/x')).toBe('https://127.0.0.1:8443');
    // The host part follows the one host-name rule: IPv4 and underscores pass, a bad label does not.
    expect(urls.profileBase('10.0.0.5:8443')).toBe('https://10.0.0.5:8443');
    expect(urls.profileBase('mdm_lab.example.test')).toBe('https://mdm_lab.example.test');
    expect(urls.profileBase('mdm..example.test')).toBe('https://127.0.0.1:8443');
    expect(urls.profileBase('mdm.example.test:8443:1')).toBe('https://127.0.0.1:8443');
    expect(urls.profileBase(undefined)).toBe('https://127.0.0.1:8443');
    // The tenant forms are still what the ready line shows.
    expect(urls.tenantUrls().mdm).toBe(`https://${ID}.web-api.mdmsim.test:8443/mdm`);
  });
});
