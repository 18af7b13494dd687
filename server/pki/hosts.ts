import * as net from 'node:net';
import { domainToASCII } from 'node:url';
import forge from 'node-forge';
import { isHostName } from '../../protocol/tenant';

/** One subjectAltName entry of a TLS server certificate. */
export type SanEntry =
  | { kind: 'dns'; name: string }
  | { kind: 'ip'; address: string; bytes: Buffer };

// GeneralName tags (RFC 5280 4.2.1.6).
const DNS_NAME = 2;
const IP_ADDRESS = 7;

/**
 * The SAN entries for the given hosts, in order, without duplicates ("LOCALHOST" and
 * "localhost", "::1" and "0:0::1" are the same entry).
 */
export function sanEntriesFor(hosts: readonly string[]): SanEntry[] {
  const byKey = new Map<string, SanEntry>();
  for (const host of hosts) {
    const entry = sanEntryFor(host);
    if (!byKey.has(sanKey(entry))) byKey.set(sanKey(entry), entry);
  }
  return [...byKey.values()];
}

/**
 * Classifies a host as an IP address or a DNS name, in the form a certificate holds it.
 * Accepts what a user is likely to type for `--host`: brackets around IPv6, an IPv6 zone,
 * upper case, a trailing dot, non-ASCII names (stored as punycode).
 */
export function sanEntryFor(host: string): SanEntry {
  const unbracketed = host.trim().replace(/^\[(.*)\]$/, '$1');
  const withoutZone = unbracketed.split('%')[0];
  if (net.isIPv4(unbracketed)) return { kind: 'ip', address: unbracketed, bytes: ipv4Bytes(unbracketed) };
  if (net.isIPv6(withoutZone)) return { kind: 'ip', address: withoutZone, bytes: ipv6Bytes(withoutZone) };
  // domainToASCII parses URL-style and would quietly drop a "/path" or "?query".
  const plain = /^[\p{L}\p{M}\p{N}._*-]+$/u.test(unbracketed);
  const name = plain ? domainToASCII(unbracketed).replace(/\.$/, '') : '';
  if (!isDnsName(name)) {
    throw new Error(
      `invalid host ${JSON.stringify(host)} for the server certificate: expected a DNS name ` +
        '(like mdm.example.test) or an IP address, without scheme, port or path',
    );
  }
  return { kind: 'dns', name };
}

/** A string that is equal for equal entries, however they were written. */
export function sanKey(entry: SanEntry): string {
  return entry.kind === 'dns' ? `dns:${entry.name}` : `ip:${entry.bytes.toString('hex')}`;
}

/** The entry as forge's subjectAltName extension wants it. */
export function toForgeAltName(entry: SanEntry): { type: number; value: string } {
  return entry.kind === 'dns'
    ? { type: DNS_NAME, value: entry.name }
    : // Raw address bytes: forge's own IP parser does not understand every IPv6 spelling.
      { type: IP_ADDRESS, value: entry.bytes.toString('binary') };
}

/** The keys (see sanKey) of the DNS and IP entries in a certificate's subjectAltName. */
export function sanKeysOf(cert: forge.pki.Certificate): Set<string> {
  const ext = cert.getExtension('subjectAltName') as
    | { altNames?: { type: number; value: string }[] }
    | undefined;
  const keys = new Set<string>();
  for (const altName of ext?.altNames ?? []) {
    if (altName.type === DNS_NAME) keys.add(`dns:${altName.value.toLowerCase()}`);
    if (altName.type === IP_ADDRESS) {
      keys.add(`ip:${Buffer.from(altName.value, 'binary').toString('hex')}`);
    }
  }
  return keys;
}

/** A host name by protocol/tenant.ts's label rule ('_' included: common in lab host names); '*' as a whole first label. */
function isDnsName(name: string): boolean {
  return isHostName(name, { wildcard: true });
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

/** Expands "::" and a trailing dotted IPv4 part; the address is already known to be valid. */
function ipv6Bytes(address: string): Buffer {
  const groups = hexGroups(address);
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

function hexGroups(address: string): string[] {
  const [head, tail] = withDottedTailAsHex(address).split('::');
  const headGroups = head ? head.split(':') : [];
  if (tail === undefined) return headGroups;
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups];
}

/** "::ffff:1.2.3.4" → "::ffff:102:304". */
function withDottedTailAsHex(address: string): string {
  const lastColon = address.lastIndexOf(':');
  const last = address.slice(lastColon + 1);
  if (!last.includes('.')) return address;
  const v4 = ipv4Bytes(last);
  return `${address.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
}
