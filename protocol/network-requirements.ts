/**
 * What a network admin must allow for one tenant, in the vendor network guide's structure
 * (the seed's "Required Domains & Ports": Domain | Ports | Protocol | OS | Description), filled
 * with the tenant's own names, followed by Apple's push hosts. No I/O:
 * `mdmsim network requirements` prints it.
 *
 * Apple's rows come from Apple's "Use Apple products on enterprise networks" (support.apple.com
 * HT210060 / 101555): its Device Management hosts list `*.push.apple.com`, and its Apple Push
 * Notifications section says devices reach APNs on TCP 5223, falling back to 443, while MDM
 * servers send to APNs on 443 or 2197 (`api.push.apple.com`, as in reference/apns.md); the
 * whole 17.0.0.0/8 block is Apple's.
 */
import { tenantDomains, type Region, type Tenant } from './tenant';

/** Whose host a row is: the tenant's own names, the guide's third-party monitoring, or Apple's. */
export type RequirementSource = 'tenant' | 'third-party' | 'apple';

/** What a row is for, as a stable key (JSON consumers filter on it). */
export type RequirementService =
  | 'agent-downloads'
  | 'auto-app-downloads'
  | 'device-domain'
  | 'enrollment-profile'
  | 'web-app'
  | 'telemetry'
  | 'monitoring'
  | 'apns-device'
  | 'apns-provider';

export interface NetworkRequirement {
  domain: string;
  ports: number[];
  protocol: 'TCP';
  /** `All`, `macOS`, or `MDM server` for a host only the server talks to. */
  os: string;
  description: string;
  service: RequirementService;
  source: RequirementSource;
  /** Device-domain rows: whether this tenant's enrollments use this one of the two forms. */
  inUse?: boolean;
}

export interface RequirementsOptions {
  /** The table for this region instead of the tenant's own (same id, subdomain and zone). */
  region?: Region;
  /** The port of the tenant's names (default 443, as the guide; a lab server's own port otherwise). */
  port?: number;
}

export const REQUIREMENT_COLUMNS = ['Domain', 'Ports', 'Protocol', 'OS', 'Description'] as const;

/** The guide's two monitoring hosts, listed as they are (they are not under the tenant's zone). */
export const THIRD_PARTY_MONITORING_HOSTS: readonly string[] = ['browser-intake-datadoghq.com', 'events.launchdarkly.com'];

export function networkRequirements(tenant: Tenant, options: RequirementsOptions = {}): NetworkRequirement[] {
  const port = options.port ?? 443;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port must be a whole number from 1 to 65535; got ${port}`);
  const t: Tenant = { ...tenant, region: options.region ?? tenant.region };
  const d = tenantDomains(t);
  const own = (domain: string, os: string, service: RequirementService, description: string, inUse?: boolean): NetworkRequirement => ({
    domain,
    ports: [port],
    protocol: 'TCP',
    os,
    description,
    service,
    source: 'tenant',
    ...(inUse === undefined ? {} : { inUse }),
  });
  const usesDevices = t.deviceDomainStyle === 'devices';
  const deviceRole = 'MDM protocol (ServerURL and CheckInURL) and the agent\'s check-ins; unique to this tenant';
  return [
    own(d.agentDownloads, 'macOS', 'agent-downloads', 'Downloads of the agent and the custom apps uploaded to this tenant'),
    ...d.autoAppDownloads.map((domain) => own(domain, 'macOS', 'auto-app-downloads', 'Downloads of Auto Apps')),
    own(d.webApiDevice, 'All', 'device-domain', `${deviceRole}. ${usesDevices ? `The older form: this tenant's enrollments use ${d.devicesDevice}` : "This tenant's enrollments use this one"}`, !usesDevices),
    own(d.devicesDevice, 'All', 'device-domain', `${deviceRole}. The form that replaces ${d.webApiDevice} for new enrollments. ${usesDevices ? "This tenant's enrollments use this one" : "Not yet used by this tenant's enrollments"}`, usesDevices),
    own(d.enrollment, 'All', 'enrollment-profile', 'Download of the MDM enrollment profile'),
    own(d.webApp, 'All', 'web-app', 'The web app (API and dashboard)'),
    own(d.telemetry, 'All', 'telemetry', 'Device telemetry'),
    ...THIRD_PARTY_MONITORING_HOSTS.map(
      (domain): NetworkRequirement => ({ domain, ports: [443], protocol: 'TCP', os: 'All', description: 'Release management and platform monitoring (a third party, as the guide lists it)', service: 'monitoring', source: 'third-party' }),
    ),
    {
      domain: '*.push.apple.com',
      ports: [443, 5223],
      protocol: 'TCP',
      os: 'All',
      description: 'Apple Push Notification service, device side: the persistent connection on 5223, 443 as its fallback (Apple: 17.0.0.0/8)',
      service: 'apns-device',
      source: 'apple',
    },
    {
      domain: 'api.push.apple.com',
      ports: [443, 2197],
      protocol: 'TCP',
      os: 'MDM server',
      description: 'Apple Push Notification service, provider API: where the MDM server sends its pushes (not needed on the devices\' network)',
      service: 'apns-provider',
      source: 'apple',
    },
  ];
}

/** The five columns of a row, as the guide prints them. */
export function requirementCells(r: NetworkRequirement): [string, string, string, string, string] {
  return [r.domain, r.ports.join(', '), r.protocol, r.os, r.description];
}

/** Aligned text for a terminal: a header, a rule, one line per row (the description last, unpadded). */
export function formatRequirementsTable(rows: readonly NetworkRequirement[]): string {
  const cells = [REQUIREMENT_COLUMNS as readonly string[], ...rows.map(requirementCells)];
  const widths = REQUIREMENT_COLUMNS.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return `${[line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n')}\n`;
}

/** RFC 4180: CRLF line ends, a field quoted (quotes doubled) when it holds a comma, quote, CR or LF. */
export function formatRequirementsCsv(rows: readonly NetworkRequirement[]): string {
  const field = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [REQUIREMENT_COLUMNS as readonly string[], ...rows.map(requirementCells)].map((c) => c.map(field).join(',')).join('\r\n') + '\r\n';
}

/** An array of the row objects, ports as numbers. */
export function formatRequirementsJson(rows: readonly NetworkRequirement[]): string {
  return `${JSON.stringify(rows, null, 2)}\n`;
}

export type RequirementsFormat = 'table' | 'json' | 'csv';
export const REQUIREMENTS_FORMATS: readonly RequirementsFormat[] = ['table', 'json', 'csv'];

export function formatRequirements(rows: readonly NetworkRequirement[], format: RequirementsFormat): string {
  return format === 'json' ? formatRequirementsJson(rows) : format === 'csv' ? formatRequirementsCsv(rows) : formatRequirementsTable(rows);
}
