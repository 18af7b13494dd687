/**
 * The network a simulated Mac sits on, in the words of the vendor's network guide: an
 * enrollment-only network or a proxy lets through only the `domain:port` pairs it lists
 * (`*.iot.mdmsim.test:443`, as the guide's tables write them), and a TLS-inspecting proxy
 * decrypts everything except the hosts exempted from inspection.
 *
 * Host patterns are a name, `*.domain` (one or more labels in place of the `*`), an IP address
 * (IPv6 in brackets when a port follows), and may hold `{name}` placeholders that whoever runs
 * the Macs fills in from what it knows (a lab: `{device}`, `{enrollment}`, `{agent-downloads}`,
 * `{port}`, `{apns}`, `{apns-port}`… see agent-sim/network/names.ts), because a lab's tenant id and
 * ports are only known once it runs. No I/O here: the fault parser checks these, the simulator
 * matches them.
 */
import { isIP } from 'node:net';
import { problem } from './problem';
import { HOST_LABEL, hostMatches } from './tenant';

/** One allow-list entry: a host pattern and a port (or every port). */
export interface HostPort {
  host: string;
  /** A port, `*` for every port, or a `{name}` placeholder still to fill in. */
  port: number | '*' | string;
}

/** A host label (protocol/tenant.ts's rule) or placeholders, or both run together (`{device}`, `prd{x}`). */
const LABEL = `(?:${HOST_LABEL}|\\{[a-z][a-z0-9-]*\\})+`;
const HOST_NAME = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*$`);
const PLACEHOLDER = /^\{[a-z][a-z0-9-]*\}$/;
/** A placeholder (`{device}`) anywhere in a string. */
export const NAME_PLACEHOLDER = /\{([a-z][a-z0-9-]*)\}/g;

function bad(field: string, message: string, expected: string): never {
  throw problem(400, 'bad-fault', message, { field, expected });
}

/** Checks a host pattern (name, `*.domain`, IP, with placeholders); returns it normalised (lower case, no trailing dot, IPv6 unbracketed). */
export function parseHostPattern(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') bad(field, `${field} must be a host name, *.domain or IP address`, 'like *.iot.mdmsim.test, {device} or 127.0.0.1');
  const raw = value.trim();
  const unbracketed = raw.replace(/^\[(.*)\]$/, '$1');
  if (isIP(unbracketed) !== 0) return unbracketed.toLowerCase();
  const host = raw.toLowerCase().replace(/\.$/, '');
  if (host.length > 253 || !HOST_NAME.test(host)) bad(field, `${field}: ${JSON.stringify(value)} is not a host name, *.domain or IP address`, 'like *.iot.mdmsim.test, {device} or 127.0.0.1 (no scheme, path or port)');
  return host;
}

/** `host:port` as the guide writes it (`*.iot.mdmsim.test:443`, `[::1]:8443`, `{device}:{port}`, `host:*`). */
export function parseHostPort(value: unknown, field: string): HostPort {
  const expected = 'host:port, like *.iot.mdmsim.test:443, {device}:{port} or [::1]:8443';
  if (typeof value !== 'string') bad(field, `${field} must be a host:port string`, expected);
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5}|\*|\{[a-z][a-z0-9-]*\})$/.exec(value.trim());
  if (!m) bad(field, `${field}: ${JSON.stringify(value)} is not host:port`, expected);
  const host = parseHostPattern(m[1], field);
  const p = m[2]!;
  if (p === '*' || PLACEHOLDER.test(p)) return { host, port: p };
  const port = Number(p);
  if (port < 1 || port > 65535) bad(field, `${field}: port ${p} is not from 1 to 65535`, expected);
  return { host, port };
}

export function formatHostPort(hp: HostPort): string {
  return `${isIP(hp.host) === 6 ? `[${hp.host}]` : hp.host}:${hp.port}`;
}

/** Whether a host pattern (no placeholders left) covers `host`: the name itself, a `*.domain` over it, or the same IP. */
export function hostPatternMatches(pattern: string, host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (isIP(pattern) !== 0 || isIP(h) !== 0) return pattern === h;
  return hostMatches(pattern, h);
}

/** Whether an entry (placeholders filled in) lets `host:port` through. */
export function hostPortMatches(hp: HostPort, host: string, port: number): boolean {
  return (hp.port === '*' || hp.port === port) && hostPatternMatches(hp.host, host);
}

/** Whether any entry of a list lets `host:port` through. */
export function allowedBy(list: readonly HostPort[], host: string, port: number): boolean {
  for (const hp of list) if (hostPortMatches(hp, host, port)) return true;
  return false;
}
