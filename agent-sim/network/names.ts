/**
 * The `{name}` placeholders of allow-lists and inspection exemptions, filled in by whoever runs
 * the Macs: a story is written once, but a lab's tenant id and ports are only known when it runs.
 *
 * A fleet knows `{server}` (the host it enrolls at), `{port}` (that host's HTTPS port), `{apns}`
 * and `{apns-port}` (its courier). A lab adds its tenant's names, in the guide's terms
 * (protocol/tenant.ts): `{device}` (the device domain its enrollments use), `{device-web-api}` and
 * `{device-devices}` (both device domains), `{enrollment}`, `{web-app}`, `{agent-downloads}`,
 * `{auto-apps}`, `{managed-library}`, `{telemetry}` (`*.iot.<zone>`) and `{zone}`.
 */
import { NAME_PLACEHOLDER } from '../../protocol/network-policy';
import { problem } from '../../protocol/problem';
import { tenantDomains, type Tenant } from '../../protocol/tenant';

export type NetworkNames = Readonly<Record<string, string>>;

/** The names a lab's fleet knows (fleetNames and tenantNames), for checking a story before it runs. */
export const LAB_NETWORK_NAMES: readonly string[] = ['server', 'port', 'apns', 'apns-port', 'device', 'device-web-api', 'device-devices', 'enrollment', 'web-app', 'agent-downloads', 'auto-apps', 'managed-library', 'telemetry', 'zone'];

/** `text` with every `{name}` replaced; an unknown name is a 400 naming the field and the names known. */
export function fillNames(text: string, names: NetworkNames, field: string): string {
  return text.replace(NAME_PLACEHOLDER, (whole, name: string) => {
    const value = names[name];
    if (value === undefined) {
      const known = Object.keys(names).sort();
      throw problem(400, 'unknown-network-name', `${field}: ${whole} is not a name this fleet knows`, {
        field,
        expected: known.length > 0 ? known.map((k) => `{${k}}`).join(', ') : 'a host (this fleet has no names to fill in)',
      });
    }
    return value;
  });
}

function hostPortOf(url: string, defaultPort: number): { host: string; port: string } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port || String(defaultPort) };
}

/** What any fleet knows: where it enrolls and where its courier is. */
export function fleetNames(server: string, courier: string): Record<string, string> {
  const s = hostPortOf(server, 443);
  const c = hostPortOf(courier, courier.startsWith('wss:') ? 443 : 80);
  return { server: s.host, port: s.port, apns: c.host, 'apns-port': c.port };
}

/** A tenant's names (the lab's server tells them). */
export function tenantNames(tenant: Tenant): Record<string, string> {
  const d = tenantDomains(tenant);
  return {
    device: d.device,
    'device-web-api': d.webApiDevice,
    'device-devices': d.devicesDevice,
    enrollment: d.enrollment,
    'web-app': d.webApp,
    'agent-downloads': d.agentDownloads,
    'auto-apps': d.autoAppDownloads[0]!,
    'managed-library': d.autoAppDownloads[1]!,
    telemetry: d.telemetry,
    zone: tenant.zone,
  };
}
