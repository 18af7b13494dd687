/**
 * A small SSL test of a TLS host, the way SSL Labs' summary reads (the vendor's network guide
 * shows one for its MDM host): which protocol versions negotiate, which cipher suites each
 * version negotiates in the order the server prefers them, and the certificate.
 *
 * Suites are found the classic way: offer everything, note the suite the server chose, offer
 * everything but that, and so on until the handshake fails; the order found is the server's
 * when it has one. One more handshake tells whether it has: offered the found suites in
 * reverse, a server with a preference still picks its first.
 *
 * The probes are real handshakes through Node's OpenSSL, at security level 0 (OpenSSL 3 allows
 * TLS 1.0/1.1 only there), so only suites this OpenSSL implements can be found (`openssl
 * ciphers -stdname ALL`): no SSL 2/3, no RC4 or export suites, no PSK or SRP suites (they need
 * a shared secret). That covers what a server configured through OpenSSL can offer.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP, type LookupFunction } from 'node:net';
import { checkServerIdentity, connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { TLS_VERSION_LABELS, type TlsVersion } from '../server/http/tls-profiles';

/** Newest first, as SSL Labs lists them. */
const PROBED_VERSIONS: readonly TlsVersion[] = ['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1'];

/** Everything this OpenSSL can complete a handshake with below TLS 1.3 (PSK and SRP need secrets it does not have). */
const ALL_BELOW_13 = 'ALL:COMPLEMENTOFALL:!PSK:!SRP';
/** OpenSSL's TLS 1.3 suites (RFC 8446 B.4), CCM ones included though off by default. */
const ALL_TLS13 = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_8_SHA256'];
/** Bounds the suite loop against a server that keeps choosing something new (OpenSSL has fewer than 200). */
const MAX_SUITES = 256;

export const DEFAULT_CHECK_TIMEOUT_MS = 5_000;

export type NetworkCheckErrorCode = 'bad-url' | 'bad-ca' | 'refused' | 'timeout' | 'unresolved' | 'unreachable' | 'no-tls';

/** Why the host could not be checked at all (as opposed to what it does not support). */
export class NetworkCheckError extends Error {
  constructor(
    readonly code: NetworkCheckErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NetworkCheckError';
  }
}

export interface NetworkCheckOptions {
  /** PEM of the CA the certificate should chain to; default: Node's bundled root CAs. */
  ca?: string | Buffer;
  /** How --ca was named, for the report (a path). */
  caLabel?: string;
  /** Per connection: TCP connect and TLS handshake together (default 5 s). */
  timeoutMs?: number;
  /**
   * How to find the host's address (net's `lookup`; default the system's DNS). The CLI's
   * --resolve uses it, so a tenant's names (`<uuid>.web-api.mdmsim.test`) can be checked as the
   * Macs reach them, with their SNI, without a DNS entry.
   */
  lookup?: LookupFunction;
}

export interface CheckTarget {
  url: string;
  host: string;
  port: number;
  /** The SNI name sent; null for an IP address (TLS carries no SNI for addresses, RFC 6066 §3). */
  sni: string | null;
}

export interface ProtocolResult {
  version: TlsVersion;
  /** TLS 1.2, as people write it. */
  label: string;
  negotiated: boolean;
  /** Negotiated only when the ClientHello carried no SNI (SSL Labs' "(*) Server negotiated using No-SNI"). */
  noSni: boolean;
  /** When not negotiated: what the handshake said. */
  refusal?: string;
}

export interface SuiteResult {
  /** IANA name (what SSL Labs and the vendor's guide print). */
  iana: string;
  /** OpenSSL's name. */
  openssl: string;
  /** The key exchange as negotiated: "ECDH X25519", "DH 2048 bits", "RSA". */
  keyExchange: string;
  forwardSecrecy: boolean;
}

export interface VersionSuites {
  version: TlsVersion;
  label: string;
  /**
   * true: `suites` is the server's order. false: the server takes the client's order, and
   * `suites` is the order they were offered in. null: one suite, nothing to order.
   */
  serverPreference: boolean | null;
  suites: SuiteResult[];
}

export interface CertificateResult {
  subject: string;
  /** Subject alternative names as OpenSSL prints them: DNS:…, IP Address:…. */
  altNames: string[];
  /** "RSA 2048 bits", "EC P-256". */
  key: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  /** Whole days until validTo (negative once expired), by this machine's clock. */
  daysLeft: number;
  sha256: string;
  /** Whether the certificate covers the name or address in the URL. */
  hostnameMatches: boolean;
  hostnameError?: string;
  trust: {
    /** What it was checked against: the --ca file or Node's bundled root CAs. */
    anchor: 'ca' | 'node-roots';
    caLabel?: string;
    chains: boolean;
    /** OpenSSL's reason when it does not, e.g. UNABLE_TO_GET_ISSUER_CERT_LOCALLY. */
    error?: string;
  };
}

export interface NetworkCheckReport {
  target: CheckTarget;
  certificate: CertificateResult | null;
  /** Newest version first. */
  protocols: ProtocolResult[];
  /** Only the versions that negotiated, newest first. */
  cipherSuites: VersionSuites[];
  /** Handshakes it took. */
  handshakes: number;
}

/** `https://host[:port]` or bare `host[:port]` (port 443 by default). */
export function parseCheckTarget(value: string): CheckTarget {
  const text = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new NetworkCheckError('bad-url', `${JSON.stringify(value)} is not a URL: expected https://host[:port], e.g. https://127.0.0.1:8443`);
  }
  if (url.protocol !== 'https:') {
    throw new NetworkCheckError('bad-url', `${value}: the check speaks TLS, so the URL must be https:// (got ${url.protocol.replace(/:$/, '')})`);
  }
  if (url.hostname === '') throw new NetworkCheckError('bad-url', `${value}: no host in the URL`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? 443 : Number(url.port);
  return { url: url.origin, host, port, sni: isIP(host) === 0 ? host : null };
}

interface Probe {
  version: TlsVersion | 'any';
  /** OpenSSL cipher string (below 1.3) or TLS 1.3 suite names, in offer order. */
  ciphers: string;
  sni: boolean;
  ca?: Buffer;
}

type Handshake =
  | { ok: true; protocol: string; openssl: string; iana: string; ephemeral: { type?: string; name?: string; size?: number }; socket: TLSSocket }
  | { ok: false; reason: string };

class Prober {
  handshakes = 0;
  constructor(
    private readonly target: CheckTarget,
    private readonly timeoutMs: number,
    private readonly lookup: LookupFunction | undefined,
  ) {}

  /**
   * One handshake. Failures of TLS come back as values; failures to reach the host at all
   * (refused, unresolved, TCP timeout) throw, since no further probe can do better.
   * `keep` leaves the socket open for the caller to read the certificate, then destroy.
   */
  handshake(probe: Probe, keep = false): Promise<Handshake> {
    this.handshakes++;
    const { host, port } = this.target;
    const where = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const versions = probe.version === 'any' ? { minVersion: 'TLSv1' as const, maxVersion: 'TLSv1.3' as const } : { minVersion: probe.version, maxVersion: probe.version };
      let tcpConnected = false;
      const socket = connect({
        host,
        port,
        ...(this.lookup ? { lookup: this.lookup } : {}),
        ...versions,
        ciphers: probe.ciphers,
        servername: probe.sni && this.target.sni !== null ? this.target.sni : undefined,
        ca: probe.ca,
        rejectUnauthorized: false,
        // The name is checked on its own (hostnameMatches): `authorized` should mean the chain only.
        checkServerIdentity: () => undefined,
      });
      const timer = setTimeout(() => {
        socket.destroy();
        if (!tcpConnected) reject(new NetworkCheckError('timeout', `no TCP connection to ${where} within ${this.timeoutMs} ms (a firewall dropping packets, or the wrong host)`));
        else resolve({ ok: false, reason: `no answer to the ClientHello within ${this.timeoutMs} ms` });
      }, this.timeoutMs);
      socket.once('connect', () => (tcpConnected = true));
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        const cipher = socket.getCipher();
        const result: Handshake = {
          ok: true,
          protocol: socket.getProtocol() ?? '',
          openssl: cipher.name,
          iana: cipher.standardName,
          ephemeral: socket.getEphemeralKeyInfo() as { type?: string; name?: string; size?: number },
          socket,
        };
        if (!keep) socket.destroy();
        resolve(result);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        const unreachable = connectivityError(error, where);
        if (unreachable && !tcpConnected) reject(unreachable);
        else resolve({ ok: false, reason: handshakeReason(error) });
      });
    });
  }
}

function connectivityError(error: NodeJS.ErrnoException, where: string): NetworkCheckError | undefined {
  switch (error.code) {
    case 'ECONNREFUSED':
      return new NetworkCheckError('refused', `connection to ${where} refused: nothing is listening there (is the server running, on that port?)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new NetworkCheckError('unresolved', `cannot resolve ${where.replace(/:\d+$/, '')} (${error.code}): check the host name`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return new NetworkCheckError('unreachable', `cannot reach ${where} (${error.code})`);
    case 'ETIMEDOUT':
      return new NetworkCheckError('timeout', `connecting to ${where} timed out (${error.code})`);
    default:
      return undefined;
  }
}

/** OpenSSL's words without its error-queue prefix and source location. */
function handshakeReason(error: NodeJS.ErrnoException): string {
  const reasons = [...error.message.matchAll(/:SSL routines:[^:]*:([^:]+):/g)].map((m) => m[1]!);
  const alert = /SSL alert number (\d+)/.exec(error.message)?.[1];
  const text = reasons.length > 0 ? reasons.join('; ') : error.message.split('\n')[0]!;
  return alert !== undefined && !text.includes('alert number') ? `${text} (alert ${alert})` : text;
}

function belowThirteen(exclude: readonly string[]): string {
  return [ALL_BELOW_13, ...exclude.map((n) => `!${n}`), '@SECLEVEL=0'].join(':');
}

function keyExchange(h: Extract<Handshake, { ok: true }>): { keyExchange: string; forwardSecrecy: boolean } {
  const e = h.ephemeral;
  if (e.type === 'ECDH') return { keyExchange: `ECDH ${e.name ?? ''}`.trim(), forwardSecrecy: true };
  if (e.type === 'DH') return { keyExchange: `DH ${e.size ?? '?'} bits`, forwardSecrecy: true };
  return { keyExchange: h.protocol === 'TLSv1.3' ? 'TLS 1.3' : 'RSA', forwardSecrecy: h.protocol === 'TLSv1.3' };
}

interface VersionProbe {
  protocol: ProtocolResult;
  suites?: VersionSuites;
}

async function probeVersion(prober: Prober, target: CheckTarget, version: TlsVersion): Promise<VersionProbe> {
  const offer = (exclude: readonly string[]) =>
    version === 'TLSv1.3' ? ALL_TLS13.filter((n) => !exclude.includes(n)).join(':') : belowThirteen(exclude);
  const label = TLS_VERSION_LABELS[version];
  let sni = true;
  let first = await prober.handshake({ version, ciphers: offer([]), sni });
  if (!first.ok && target.sni !== null) {
    // SSL Labs retries without SNI, and marks what negotiates only then.
    const bare = await prober.handshake({ version, ciphers: offer([]), sni: false });
    if (bare.ok) {
      first = bare;
      sni = false;
    }
  }
  if (!first.ok) return { protocol: { version, label, negotiated: false, noSni: false, refusal: first.reason } };

  const found: Array<Extract<Handshake, { ok: true }>> = [first];
  while (found.length < MAX_SUITES) {
    const next = await prober.handshake({ version, ciphers: offer(found.map((h) => h.openssl)), sni });
    if (!next.ok || found.some((h) => h.openssl === next.openssl)) break;
    found.push(next);
  }
  let serverPreference: boolean | null = null;
  if (found.length > 1) {
    const reversed = found.map((h) => h.openssl).reverse();
    const ciphers = version === 'TLSv1.3' ? reversed.join(':') : [...reversed, '@SECLEVEL=0'].join(':');
    const pick = await prober.handshake({ version, ciphers, sni });
    serverPreference = pick.ok && pick.openssl === found[0]!.openssl;
  }
  return {
    protocol: { version, label, negotiated: true, noSni: !sni },
    suites: { version, label, serverPreference, suites: found.map((h) => ({ iana: h.iana, openssl: h.openssl, ...keyExchange(h) })) },
  };
}

function describeKey(x509: X509Certificate): string {
  const key = x509.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') return `${key.asymmetricKeyType.toUpperCase()} ${details.modulusLength ?? '?'} bits`;
  if (key.asymmetricKeyType === 'ec') return `EC ${details.namedCurve ?? ''}`.trim();
  return (key.asymmetricKeyType ?? 'unknown').toUpperCase();
}

/** "CN=x\nO=y" → "CN=x, O=y". */
function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

async function probeCertificate(prober: Prober, target: CheckTarget, ca: Buffer | undefined, caLabel: string | undefined): Promise<{ certificate: CertificateResult | null; failure?: string }> {
  const ciphers = [...ALL_TLS13, ALL_BELOW_13, '@SECLEVEL=0'].join(':');
  const h = await prober.handshake({ version: 'any', ciphers, sni: true, ca }, true);
  if (!h.ok) return { certificate: null, failure: h.reason };
  try {
    // Read once, through getPeerCertificate: in Node 20, a getPeerX509Certificate() call first
    // leaves getPeerCertificate() answering {} on the same socket.
    const peer: Partial<PeerCertificate> = h.socket.getPeerCertificate();
    if (peer.raw === undefined) return { certificate: null, failure: 'the server sent no certificate' };
    const x509 = new X509Certificate(peer.raw);
    const identity = checkServerIdentity(target.host, peer as PeerCertificate);
    const validTo = new Date(x509.validTo);
    return {
      certificate: {
        subject: oneLine(x509.subject),
        altNames: (x509.subjectAltName ?? '').split(', ').filter(Boolean),
        key: describeKey(x509),
        issuer: oneLine(x509.issuer),
        validFrom: new Date(x509.validFrom).toISOString(),
        validTo: validTo.toISOString(),
        daysLeft: Math.floor((validTo.getTime() - Date.now()) / 86_400_000),
        sha256: x509.fingerprint256,
        hostnameMatches: identity === undefined,
        ...(identity ? { hostnameError: identity.message } : {}),
        trust: {
          anchor: ca ? 'ca' : 'node-roots',
          ...(caLabel !== undefined ? { caLabel } : {}),
          chains: h.socket.authorized,
          ...(h.socket.authorized ? {} : { error: String(h.socket.authorizationError) }),
        },
      },
    };
  } finally {
    h.socket.destroy();
  }
}

function readCa(ca: string | Buffer, label: string | undefined): Buffer {
  const pem = Buffer.isBuffer(ca) ? ca : Buffer.from(ca);
  const named = label === undefined ? 'the CA' : `--ca ${label}`;
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new NetworkCheckError('bad-ca', `${named}: expected a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch (error) {
      throw new NetworkCheckError('bad-ca', `${named}: a certificate in it does not parse (${(error as Error).message})`);
    }
  }
  return pem;
}

/** Reads a --ca file, with errors that name it. */
export function readCaFile(path: string): Buffer {
  try {
    return readCa(readFileSync(path), path);
  } catch (error) {
    if (error instanceof NetworkCheckError) throw error;
    throw new NetworkCheckError('bad-ca', `--ca ${path}: ${(error as Error).message}`);
  }
}

/**
 * Checks `url` (https://host[:port]): the certificate first (which also proves the host is
 * reachable and speaks TLS), then every version at once, each version's suites one handshake
 * after another. Throws NetworkCheckError when the host cannot be checked.
 */
export async function checkTls(url: string, options: NetworkCheckOptions = {}): Promise<NetworkCheckReport> {
  const target = parseCheckTarget(url);
  const ca = options.ca === undefined ? undefined : readCa(options.ca, options.caLabel);
  const prober = new Prober(target, options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS, options.lookup);
  const { certificate, failure } = await probeCertificate(prober, target, ca, options.caLabel);
  const results = await Promise.all(PROBED_VERSIONS.map((v) => probeVersion(prober, target, v)));
  if (!results.some((r) => r.protocol.negotiated)) {
    throw new NetworkCheckError('no-tls', `no TLS version from 1.0 to 1.3 negotiates with ${target.host}:${target.port}: ${failure ?? results[0]!.protocol.refusal} (is it a TLS port?)`);
  }
  return {
    target,
    certificate,
    protocols: results.map((r) => r.protocol),
    cipherSuites: results.flatMap((r) => (r.suites ? [r.suites] : [])),
    handshakes: prober.handshakes,
  };
}
