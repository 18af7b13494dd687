/**
 * The network requirements table (protocol/network-requirements.ts): the guide's rows with a
 * tenant's names in both regions, Apple's push hosts, and the three output formats.
 */
import { DEFAULT_ZONE, type Tenant } from '../../protocol/tenant';
import {
  formatRequirements,
  formatRequirementsCsv,
  formatRequirementsJson,
  formatRequirementsTable,
  networkRequirements,
  requirementCells,
  type NetworkRequirement,
} from '../../protocol/network-requirements';

const ID = '0b9e4c1a-6a2f-4d1e-9c3b-7e5f2a1d8c64';
const TENANT: Tenant = { id: ID, subdomain: 'accuhive', region: 'us', zone: DEFAULT_ZONE, deviceDomainStyle: 'web-api' };

const domains = (rows: NetworkRequirement[]) => rows.map((r) => r.domain);

/** A minimal RFC 4180 reader: enough to prove the writer's quoting round-trips. */
function readCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && text[i + 1] === '\n') row.push(field), rows.push(row), (row = []), (field = ''), i++;
    else field += c;
  }
  return rows;
}

describe('networkRequirements', () => {
  it('lists the US rows in the guide\'s order with this tenant\'s names, then Apple\'s push hosts', () => {
    const rows = networkRequirements(TENANT);
    expect(domains(rows)).toEqual([
      'prd.s3.mdmsim.test',
      'prd-managed-library-items.s3.mdmsim.test',
      'managed-library.mdmsim.test',
      `${ID}.web-api.mdmsim.test`,
      `${ID}.devices.us-1.mdmsim.test`,
      'accuhive.web-api.mdmsim.test',
      'accuhive.mdmsim.test',
      '*.iot.mdmsim.test',
      'browser-intake-datadoghq.com',
      'events.launchdarkly.com',
      '*.push.apple.com',
      'api.push.apple.com',
    ]);
    expect(rows.map((r) => r.service)).toEqual([
      'agent-downloads',
      'auto-app-downloads',
      'auto-app-downloads',
      'device-domain',
      'device-domain',
      'enrollment-profile',
      'web-app',
      'telemetry',
      'monitoring',
      'monitoring',
      'apns-device',
      'apns-provider',
    ]);
    // macOS-only rows are the downloads, as in the guide.
    expect(rows.filter((r) => r.os === 'macOS').map((r) => r.service)).toEqual(['agent-downloads', 'auto-app-downloads', 'auto-app-downloads']);
    expect(rows.every((r) => r.protocol === 'TCP')).toBe(true);
  });

  it('lists the EU rows with eu in every tenant name and the third-party hosts as they are', () => {
    const rows = networkRequirements({ ...TENANT, region: 'eu' });
    expect(domains(rows).slice(0, 10)).toEqual([
      'prd-eu.s3.mdmsim.test',
      'prd-eu-managed-library-items.s3.mdmsim.test',
      'managed-library.eu.mdmsim.test',
      `${ID}.web-api.eu.mdmsim.test`,
      `${ID}.devices.eu.mdmsim.test`,
      'accuhive.web-api.eu.mdmsim.test',
      'accuhive.eu.mdmsim.test',
      '*.iot.eu.mdmsim.test',
      'browser-intake-datadoghq.com',
      'events.launchdarkly.com',
    ]);
    // The region option gives the other region's table for the same tenant.
    expect(networkRequirements(TENANT, { region: 'eu' })).toEqual(rows);
  });

  it('says which device domain this tenant\'s enrollments use', () => {
    const webApi = networkRequirements(TENANT).filter((r) => r.service === 'device-domain');
    expect(webApi.map((r) => r.inUse)).toEqual([true, false]);
    expect(webApi[0]!.description).toContain("This tenant's enrollments use this one");
    expect(webApi[1]!.description).toContain('Not yet used');
    const devices = networkRequirements({ ...TENANT, deviceDomainStyle: 'devices' }).filter((r) => r.service === 'device-domain');
    expect(devices.map((r) => r.inUse)).toEqual([false, true]);
    expect(devices[0]!.description).toContain(`this tenant's enrollments use ${ID}.devices.us-1.mdmsim.test`);
  });

  it('gives Apple\'s APNs hosts their ports: 5223 with 443 for devices, 443 and 2197 for the MDM server', () => {
    const apple = networkRequirements(TENANT).filter((r) => r.source === 'apple');
    expect(apple.map((r) => [r.domain, r.ports, r.os])).toEqual([
      ['*.push.apple.com', [443, 5223], 'All'],
      ['api.push.apple.com', [443, 2197], 'MDM server'],
    ]);
  });

  it('puts the given port on the tenant\'s names only', () => {
    const rows = networkRequirements(TENANT, { port: 8443 });
    expect(rows.filter((r) => r.source === 'tenant').every((r) => r.ports.length === 1 && r.ports[0] === 8443)).toBe(true);
    expect(rows.filter((r) => r.source !== 'tenant').some((r) => r.ports.includes(8443))).toBe(false);
    expect(() => networkRequirements(TENANT, { port: 0 })).toThrow('port must be a whole number from 1 to 65535');
  });
});

describe('formats', () => {
  const rows = networkRequirements(TENANT);

  it('table: a header, a rule and one aligned line per row, each column starting at the same place', () => {
    const lines = formatRequirementsTable(rows).trimEnd().split('\n');
    expect(lines).toHaveLength(rows.length + 2);
    expect(lines[0]).toMatch(/^Domain\s+Ports\s+Protocol\s+OS\s+Description$/);
    expect(lines[1]).toMatch(/^-+( {2}-+){4}$/);
    const starts = (line: string, text: string) => line.indexOf(text);
    const protocolAt = starts(lines[0]!, 'Protocol');
    const descriptionAt = starts(lines[0]!, 'Description');
    rows.forEach((r, i) => {
      const line = lines[i + 2]!;
      expect(line.startsWith(r.domain)).toBe(true);
      expect(line.slice(protocolAt).startsWith('TCP')).toBe(true);
      expect(line.slice(descriptionAt)).toBe(r.description);
    });
  });

  it('csv: RFC 4180 (CRLF, quoted fields with commas, doubled quotes) that reads back to the cells', () => {
    const csv = formatRequirementsCsv(rows);
    expect(csv.startsWith('Domain,Ports,Protocol,OS,Description\r\n')).toBe(true);
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv).toContain('*.push.apple.com,"443, 5223",TCP,All,');
    expect(readCsv(csv)).toEqual([['Domain', 'Ports', 'Protocol', 'OS', 'Description'], ...rows.map(requirementCells)]);
    const tricky: NetworkRequirement = { ...rows[0]!, description: 'say "hi", then\nleave' };
    expect(formatRequirementsCsv([tricky])).toContain('"say ""hi"", then\nleave"');
    expect(readCsv(formatRequirementsCsv([tricky]))[1]![4]).toBe('say "hi", then\nleave');
  });

  it('json: an array of row objects, ports as numbers', () => {
    const parsed = JSON.parse(formatRequirementsJson(rows)) as NetworkRequirement[];
    expect(parsed).toEqual(rows);
    expect(parsed[0]).toEqual({ domain: 'prd.s3.mdmsim.test', ports: [443], protocol: 'TCP', os: 'macOS', description: expect.any(String), service: 'agent-downloads', source: 'tenant' });
  });

  it('formatRequirements picks by name', () => {
    expect(formatRequirements(rows, 'csv')).toBe(formatRequirementsCsv(rows));
    expect(formatRequirements(rows, 'json')).toBe(formatRequirementsJson(rows));
    expect(formatRequirements(rows, 'table')).toBe(formatRequirementsTable(rows));
  });
});
