/**
 * `mdmsim network check URL`: lab/network-check.ts on the command line, printed like an SSL
 * Labs summary (the form the vendor's network guide shows for its MDM host) or as JSON.
 * stdout carries the report; errors go to stderr with exit code 1.
 */
import { lookup as dnsLookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';
import { networkCommand, resolveEntry, resolverOf, type ResolveEntry } from './cli-args';
import { checkTls, DEFAULT_CHECK_TIMEOUT_MS, NetworkCheckError, readCaFile, type NetworkCheckReport } from './network-check';

interface CheckCliOptions {
  ca?: string;
  format: 'table' | 'json';
  timeout: number;
  resolve: ResolveEntry[];
}

function timeoutMs(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected milliseconds, a whole number of at least 1');
  return Number(value);
}

/** As curl's --resolve: the names listed go where they say, any other name to the system's DNS. */
function resolveLookup(entries: readonly ResolveEntry[]): LookupFunction | undefined {
  if (entries.length === 0) return undefined;
  const resolver = resolverOf(entries);
  return ((hostname, options, callback) => {
    resolver.find(hostname).then(
      (address) => (address === undefined ? dnsLookup(hostname, options, callback) : resolver.lookup(hostname, options, callback)),
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  }) as LookupFunction;
}

export function registerNetworkCheckCommand(program: Command): void {
  networkCommand(program)
    .command('check')
    .description('connect to a TLS host and report its protocol versions, cipher suites (in server-preferred order) and certificate, like a small SSL test')
    .argument('<url>', 'https://host[:port] (port 443 if none), e.g. the ready line\'s MDM host https://127.0.0.1:8443')
    .option('--ca <path>', 'PEM of the CA the certificate should chain to (mdmsim serve prints it as caCert); default: Node\'s root CAs')
    .addOption(new Option('--format <format>', 'output').choices(['table', 'json']).default('table'))
    .option('--timeout <ms>', 'per connection, TCP connect and TLS handshake together', timeoutMs, DEFAULT_CHECK_TIMEOUT_MS)
    .option('--resolve <host:address>', "connect to this address for this name, as curl's --resolve (repeatable; *.domain allowed), e.g. *.mdmsim.test:127.0.0.1 to check a tenant's names; SNI and the host-name check keep the name", resolveEntry, [])
    .action(async (url: string, opts: CheckCliOptions) => {
      try {
        const ca = opts.ca === undefined ? undefined : readCaFile(opts.ca);
        const report = await checkTls(url, { ca, caLabel: opts.ca, timeoutMs: opts.timeout, lookup: resolveLookup(opts.resolve) });
        process.stdout.write(opts.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatNetworkCheck(report));
      } catch (error) {
        // Reasons the check could not run are the user's to act on; anything else is a bug and keeps its stack.
        if (error instanceof NetworkCheckError) throw new Error(`network check: ${error.message}`);
        throw error;
      }
    });
}

function rows(pairs: Array<[string, string]>, indent = '  '): string[] {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`);
}

/** The report as SSL Labs lays it out: Certificate, Protocols, Cipher Suites. */
export function formatNetworkCheck(report: NetworkCheckReport): string {
  const { target, certificate: cert } = report;
  const out: string[] = [`TLS check of ${target.url} (${target.sni === null ? 'an address: no SNI sent' : `SNI ${target.sni}`})`, ''];

  out.push('Certificate');
  if (cert === null) {
    out.push('  (no handshake completed with every version offered: see Protocols)');
  } else {
    const trust = cert.trust.chains
      ? `Yes: chains to ${cert.trust.anchor === 'ca' ? (cert.trust.caLabel ?? 'the --ca certificate') : "one of Node's root CAs"}`
      : `No: ${cert.trust.error} (checked against ${cert.trust.anchor === 'ca' ? (cert.trust.caLabel ?? 'the --ca certificate') : "Node's root CAs; pass --ca for a private CA"})`;
    out.push(
      ...rows([
        ['Subject', cert.subject],
        ['Alternative names', cert.altNames.join(', ') || '(none)'],
        ['Key', cert.key],
        ['Issuer', cert.issuer],
        ['Valid from', cert.validFrom],
        ['Valid until', `${cert.validTo} (${cert.daysLeft >= 0 ? `${cert.daysLeft} days left` : `EXPIRED ${-cert.daysLeft} days ago`})`],
        ['SHA-256', cert.sha256],
        ['Host name', cert.hostnameMatches ? `Yes: covers ${target.host}` : `No: ${cert.hostnameError}`],
        ['Trusted', trust],
      ]),
    );
  }
  out.push('');

  out.push('Protocols');
  out.push(...rows(report.protocols.map((p) => [p.label, p.negotiated ? `Yes${p.noSni ? '*' : ''}` : 'No'])));
  if (report.protocols.some((p) => p.noSni)) out.push('  (*) Server negotiated using No-SNI');
  out.push('');

  out.push('Cipher Suites');
  for (const v of report.cipherSuites) {
    const order = v.serverPreference === true ? 'in server-preferred order' : v.serverPreference === false ? 'server has no preference: in the order offered' : 'one suite';
    out.push(`  # ${v.label} (${order})`);
    const width = Math.max(...v.suites.map((s) => s.iana.length));
    for (const s of v.suites) out.push(`  ${s.iana.padEnd(width)}  ${s.keyExchange.padEnd(12)}  ${s.forwardSecrecy ? 'FS' : '  '}  ${s.openssl}`);
  }
  out.push('', `${report.handshakes} handshakes`, '');
  return out.join('\n');
}
