/**
 * A tenant and the domain names its devices use, shaped like the vendor's network guide (the
 * seed's "Required Domains & Ports"): each tenant has its own device domains, named by its id,
 * and its own enrollment and web-app names, named by its subdomain; the EU region inserts `eu`.
 * Every name lives under `zone`, which defaults to a name reserved for testing (RFC 6761 `.test`),
 * so nothing mdmsim hands a device can ever resolve to a real vendor.
 *
 * No I/O: the server hands these names to devices, the simulated Macs resolve them to the server
 * by themselves, and `mdmsim network requirements` prints them.
 */
import { problem } from './problem';

export type Region = 'us' | 'eu';
export const REGIONS: readonly Region[] = ['us', 'eu'];

/**
 * Which of the two device domains new enrollments get: `web-api` (`<id>.web-api.<zone>`, what
 * the guide says tenants use today) or `devices` (`<id>.devices.us-1.<zone>`, the name it says
 * replaces it for new enrollments).
 */
export type DeviceDomainStyle = 'web-api' | 'devices';

export const DEFAULT_ZONE = 'mdmsim.test';

export interface Tenant {
  /** Lower-case UUID. */
  id: string;
  /** One DNS label, lower case (the tenant's web-app and enrollment name). */
  subdomain: string;
  region: Region;
  zone: string;
  deviceDomainStyle: DeviceDomainStyle;
}

/** The names of one tenant, in the guide's terms. */
export interface TenantDomains {
  /** `<id>.web-api.<zone>` (EU: `<id>.web-api.eu.<zone>`): MDM and agent. */
  webApiDevice: string;
  /** `<id>.devices.us-1.<zone>` (EU: `<id>.devices.eu.<zone>`): MDM and agent, newer form. */
  devicesDevice: string;
  /** The one of the two above that this tenant's enrollments use (see DeviceDomainStyle). */
  device: string;
  /** `<subdomain>.web-api.<zone>` (EU `.web-api.eu.`): the enrollment profile. */
  enrollment: string;
  /** `<subdomain>.<zone>` (EU `<subdomain>.eu.<zone>`): the web app (API, dashboard). */
  webApp: string;
  /** `prd.s3.<zone>` (EU `prd-eu.s3.<zone>`): the agent and custom apps. */
  agentDownloads: string;
  /** Auto Apps: `prd-managed-library-items.s3.<zone>` and `managed-library.<zone>` (EU forms with `eu`). */
  autoAppDownloads: readonly string[];
  /** `*.iot.<zone>` (EU `*.iot.eu.<zone>`): device telemetry (a wildcard, as the guide lists it). */
  telemetry: string;
}

export function tenantDomains(t: Tenant): TenantDomains {
  const eu = t.region === 'eu';
  const z = t.zone;
  const webApiDevice = eu ? `${t.id}.web-api.eu.${z}` : `${t.id}.web-api.${z}`;
  const devicesDevice = eu ? `${t.id}.devices.eu.${z}` : `${t.id}.devices.us-1.${z}`;
  return {
    webApiDevice,
    devicesDevice,
    device: t.deviceDomainStyle === 'devices' ? devicesDevice : webApiDevice,
    enrollment: eu ? `${t.subdomain}.web-api.eu.${z}` : `${t.subdomain}.web-api.${z}`,
    webApp: eu ? `${t.subdomain}.eu.${z}` : `${t.subdomain}.${z}`,
    agentDownloads: eu ? `prd-eu.s3.${z}` : `prd.s3.${z}`,
    autoAppDownloads: eu
      ? [`prd-eu-managed-library-items.s3.${z}`, `managed-library.eu.${z}`]
      : [`prd-managed-library-items.s3.${z}`, `managed-library.${z}`],
    telemetry: eu ? `*.iot.eu.${z}` : `*.iot.${z}`,
  };
}

/** Every concrete name a server certificate for this tenant must cover (both regions' forms are not needed: a tenant has one). */
export function tenantCertificateNames(t: Tenant): string[] {
  const d = tenantDomains(t);
  return [d.webApiDevice, d.devicesDevice, d.enrollment, d.webApp, d.agentDownloads, ...d.autoAppDownloads, d.telemetry];
}

/** Whether `host` is `pattern`, or matches it when it is `*.rest` (one or more labels in place of `*`). */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return p === h;
  return h.endsWith(p.slice(1)) && h.length > p.length - 1;
}

/**
 * The one rule for a label of a host name (as a regular-expression source, lower case): letters,
 * digits, inner hyphens, at most 63 characters (DNS's limit), and `_`, which RFC 1123 host names
 * leave out but lab networks have (`host_with_underscore.lan`) and DNS and TLS carry. A name mdmsim
 * mints for a tenant keeps to RFC 1123 (isTenantLabel); names it is given to reach follow this.
 */
export const HOST_LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOST_NAME = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);
const WILDCARD_HOST_NAME = new RegExp(`^(?:\\*\\.)?${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);
const TENANT_LABEL = new RegExp(`^${HOST_LABEL}$`);

/**
 * Whether `name` (lower case, no trailing dot) is a host name: labels by HOST_LABEL, at most 253
 * characters; with `wildcard`, `*.domain` too.
 */
export function isHostName(name: string, options: { wildcard?: boolean } = {}): boolean {
  return name.length > 0 && name.length <= 253 && (options.wildcard ? WILDCARD_HOST_NAME : HOST_NAME).test(name);
}

/** A label of a name handed to devices (a tenant's subdomain, its zone's labels): HOST_LABEL without `_`. */
export function isTenantLabel(label: string): boolean {
  return !label.includes('_') && TENANT_LABEL.test(label);
}

/** Which tenant name a host is, read from its shape (tenantDomains writes these). */
export type TenantHost =
  /** `<id>.web-api.<zone>`, EU `<id>.web-api.eu.<zone>`. */
  | { kind: 'web-api-device'; id: string; region: Region; zone: string }
  /** `<id>.devices.us-1.<zone>`, EU `<id>.devices.eu.<zone>`. */
  | { kind: 'devices-device'; id: string; region: Region; zone: string }
  /** `<subdomain>.web-api.<zone>`, EU `<subdomain>.web-api.eu.<zone>`: the enrollment profile's. */
  | { kind: 'enrollment'; subdomain: string; region: Region; zone: string };

/**
 * The tenant name `host` is (a device domain or the enrollment name), with its id or subdomain,
 * region and zone; undefined for any other host. The zone needs two labels, so
 * `<id>.web-api.eu.test` is a US name under `eu.test`, not an EU one under `test`.
 */
export function parseTenantHost(host: string): TenantHost | undefined {
  const labels = host.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.length < 4 || !isHostName(labels.join('.'))) return undefined;
  const [first, second, third] = labels as [string, string, string];
  // The EU form when what follows `eu` is still a zone; the US form otherwise.
  const after = (n: number): string | undefined => (labels.length - n >= 2 ? labels.slice(n).join('.') : undefined);
  if (UUID.test(first) && second === 'devices') {
    const region: Region | undefined = third === 'us-1' ? 'us' : third === 'eu' ? 'eu' : undefined;
    const zone = after(3);
    return region && zone ? { kind: 'devices-device', id: first, region, zone } : undefined;
  }
  if (second !== 'web-api') return undefined;
  const euZone = third === 'eu' ? after(3) : undefined;
  const region: Region = euZone ? 'eu' : 'us';
  const zone = euZone ?? after(2)!;
  if (UUID.test(first)) return { kind: 'web-api-device', id: first, region, zone };
  return isTenantLabel(first) ? { kind: 'enrollment', subdomain: first, region, zone } : undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function bad(field: string, message: string, expected: string): never {
  throw problem(400, 'bad-tenant', message, { field, expected });
}

/**
 * Checks and normalises a tenant (from a file, flags or a request): the id a UUID, the subdomain
 * one DNS label, the region us|eu, the zone a DNS name. Throws a problem naming the field.
 */
export function parseTenant(value: Partial<Record<keyof Tenant, unknown>>, field = 'tenant'): Tenant {
  const id = typeof value.id === 'string' ? value.id.trim().toLowerCase() : value.id;
  if (typeof id !== 'string' || !UUID.test(id)) bad(`${field}.id`, `${field}.id must be a UUID, got ${JSON.stringify(value.id)}`, 'like 3f2c1d9e-8b7a-4c6d-9e5f-1a2b3c4d5e6f');
  const subdomain = typeof value.subdomain === 'string' ? value.subdomain.trim().toLowerCase() : value.subdomain;
  if (typeof subdomain !== 'string' || !isTenantLabel(subdomain)) bad(`${field}.subdomain`, `${field}.subdomain must be one DNS label, got ${JSON.stringify(value.subdomain)}`, 'letters, digits and inner hyphens, at most 63, like "accuhive"');
  const region = value.region ?? 'us';
  if (region !== 'us' && region !== 'eu') bad(`${field}.region`, `${field}.region must be us or eu, got ${JSON.stringify(value.region)}`, 'us | eu');
  const zone = typeof value.zone === 'string' ? value.zone.trim().toLowerCase().replace(/\.$/, '') : value.zone ?? DEFAULT_ZONE;
  if (typeof zone !== 'string' || zone.length > 200 || !zone.split('.').every(isTenantLabel) || !zone.includes('.')) {
    bad(`${field}.zone`, `${field}.zone must be a DNS name with at least two labels, got ${JSON.stringify(value.zone)}`, `a domain you control or a reserved one, like ${DEFAULT_ZONE}`);
  }
  const style = value.deviceDomainStyle ?? 'web-api';
  if (style !== 'web-api' && style !== 'devices') bad(`${field}.deviceDomainStyle`, `${field}.deviceDomainStyle must be web-api or devices, got ${JSON.stringify(value.deviceDomainStyle)}`, 'web-api | devices');
  return { id, subdomain, region, zone, deviceDomainStyle: style };
}
