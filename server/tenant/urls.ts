/**
 * The one place that decides which host a URL handed to a device names. Every URL a Mac is
 * given (the enrollment profile's ServerURL and CheckInURL, the agent's manifest, package and
 * check-in endpoint) comes from here, so the choice between the tenant's names and the address
 * the server listens on is made once.
 *
 * `tenant` (the default): the tenant's names, as the vendor's network guide lists them, with the
 * server's real port: MDM and the agent on the device domain, the profile on the enrollment name,
 * the agent's and the custom app's downloads on the agent-downloads name, the Auto App's on the
 * first Auto Apps name. Every name resolves to this one server for a simulated
 * Mac (its own resolver); other clients keep using the listening address.
 *
 * `listen`: the address the server listens on (the profile follows the Host the device used to
 * download it, as before tenants existed): for Macs that resolve names through system DNS only,
 * such as a fleet pointed at mdmsim from elsewhere.
 */
import { AGENT_CHECKIN_PATH, AGENT_MANIFEST_PATH } from '../../protocol/agent';
import { SAMPLE_APPS, type SampleAppKind } from '../../protocol/sample-apps';
import { isHostName, tenantDomains, type Tenant, type TenantDomains } from '../../protocol/tenant';

export type DeviceNames = 'tenant' | 'listen';
export const DEVICE_NAMES: readonly DeviceNames[] = ['tenant', 'listen'];

/** Simulated Macs resolve the tenant's names to the server themselves (agent-sim/network/resolver.ts). */
export const DEFAULT_DEVICE_NAMES: DeviceNames = 'tenant';

/** The tenant's URLs for devices, as the ready line's `deviceUrls` shows them. */
export interface TenantDeviceUrls {
  /** MDM on the device domain (ServerURL is this + /connect, CheckInURL this + /checkin). */
  mdm: string;
  /** GET this for an enrollment profile (the enrollment name). */
  enroll: string;
  /** The agent's check-in endpoint (the device domain). */
  agentCheckin: string;
  /** The agent's app manifest (the agent-downloads name); the package is next to it. */
  agentManifest: string;
  /** The sample custom app's manifest (the agent-downloads name, as the guide's "Agent & Custom Apps" row). */
  customAppManifest: string;
  /** The sample Auto App's manifest (the first Auto Apps name). */
  autoAppManifest: string;
  /** The web app: API and dashboard. */
  webApp: string;
}

/** host[:port] as a Host header may carry it: a bracketed IPv6, or anything else before the port. */
const HOST_HEADER = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::\d{1,5})?$/;

/** Whether a Host header is fit to put in a URL: a host name (protocol/tenant.ts's rule; IPv4 is one) or a bracketed IPv6, and a port. */
function isHostHeader(value: string): boolean {
  const m = HOST_HEADER.exec(value);
  return m !== null && (m[1]!.startsWith('[') || isHostName(m[1]!.toLowerCase()));
}

export class DeviceUrls {
  readonly domains: TenantDomains;

  constructor(
    readonly tenant: Tenant,
    readonly mode: DeviceNames,
    /** https://host:port the server listens at (known once it listens). */
    private readonly listenBase: () => string,
  ) {
    this.domains = tenantDomains(tenant);
  }

  /** The port part of a URL, from the listening address (nothing for 443, as URL origins write it). */
  private portSuffix(): string {
    const base = this.listenBase();
    const port = base === '' ? '' : new URL(base).port;
    return port === '' ? '' : `:${port}`;
  }

  /** https://name:port for a tenant name. */
  tenantOrigin(name: string): string {
    return `https://${name}${this.portSuffix()}`;
  }

  /** Where MDM and the agent are: the device domain, or the listening address. */
  deviceBase(): string {
    return this.mode === 'tenant' ? this.tenantOrigin(this.domains.device) : this.listenBase();
  }

  /** Where the agent's manifest and package are downloaded from. */
  downloadsBase(): string {
    return this.mode === 'tenant' ? this.tenantOrigin(this.domains.agentDownloads) : this.listenBase();
  }

  /**
   * The base of the ServerURL and CheckInURL in a profile served for a request with this Host
   * header. With tenant names, always the device domain; otherwise the host the device used (a
   * server on 0.0.0.0 does not know its own name), or the listening address for a bad Host.
   */
  profileBase(hostHeader?: string): string {
    if (this.mode === 'tenant') return this.deviceBase();
    return hostHeader && isHostHeader(hostHeader) ? `https://${hostHeader}` : this.listenBase();
  }

  /** Where Auto Apps are downloaded from: the first Auto Apps name, or the listening address. */
  autoAppsBase(): string {
    return this.mode === 'tenant' ? this.tenantOrigin(this.domains.autoAppDownloads[0]!) : this.listenBase();
  }

  /** Where a sample app's manifest and package are: a custom app with the agent, an Auto App on the Auto Apps name. */
  sampleAppBase(kind: SampleAppKind): string {
    return kind === 'auto-app' ? this.autoAppsBase() : this.downloadsBase();
  }

  sampleAppManifestUrl(kind: SampleAppKind): string {
    return `${this.sampleAppBase(kind)}${SAMPLE_APPS[kind].manifestPath}`;
  }

  agentCheckinUrl(): string {
    return `${this.deviceBase()}${AGENT_CHECKIN_PATH}`;
  }

  agentManifestUrl(): string {
    return `${this.downloadsBase()}${AGENT_MANIFEST_PATH}`;
  }

  /** The tenant forms, whatever the mode (what the ready line and /sim/v1/tenant show). */
  tenantUrls(): TenantDeviceUrls {
    return {
      mdm: `${this.tenantOrigin(this.domains.device)}/mdm`,
      enroll: `${this.tenantOrigin(this.domains.enrollment)}/mdm/enroll`,
      agentCheckin: `${this.tenantOrigin(this.domains.device)}${AGENT_CHECKIN_PATH}`,
      agentManifest: `${this.tenantOrigin(this.domains.agentDownloads)}${AGENT_MANIFEST_PATH}`,
      customAppManifest: `${this.tenantOrigin(this.domains.agentDownloads)}${SAMPLE_APPS['custom-app'].manifestPath}`,
      autoAppManifest: `${this.tenantOrigin(this.domains.autoAppDownloads[0]!)}${SAMPLE_APPS['auto-app'].manifestPath}`,
      webApp: `${this.tenantOrigin(this.domains.webApp)}/`,
    };
  }
}
