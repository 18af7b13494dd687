/**
 * TLS profiles of the HTTPS host (MDM, agent, APIs, dashboard): which protocol versions and
 * cipher suites it negotiates, as data, so that the server, `mdmsim network check` and the
 * tests all read the same table.
 *
 * - `modern` (the default): TLS 1.2 and 1.3 with Mozilla's "intermediate" suites (Server Side
 *   TLS 5.0, https://statics.tls.security.mozilla.org/server-side-tls-conf-5.0.json), less those
 *   this server can never use: its certificate is RSA (no ECDSA suites) and it has no DH
 *   parameters (no DHE suites). Client's order, as that configuration says
 *   (server_preferred_order: false).
 * - `vendor-2024`: the vendor's MDM host as its network guide shows it (seed 000, "TLS Versions
 *   and Cipher Suites", an SSL Labs summary): TLS 1.0, 1.1 and 1.2, no TLS 1.3, the listed
 *   suites in the listed server-preferred order. Named for the table it reproduces, so that a
 *   later table can sit next to it.
 *
 * Suites are written with their IANA names (what the guide and SSL Labs print) and mapped to
 * OpenSSL's names (what Node is configured with); test/unit/network/tls-profiles.test.ts checks every
 * mapping and code point against `openssl ciphers -V -stdname`.
 */

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** Oldest first, as Node and OpenSSL name them. */
export const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** How people (and SSL Labs) write a version. */
export const TLS_VERSION_LABELS: Readonly<Record<TlsVersion, string>> = {
  TLSv1: 'TLS 1.0',
  'TLSv1.1': 'TLS 1.1',
  'TLSv1.2': 'TLS 1.2',
  'TLSv1.3': 'TLS 1.3',
};

export interface CipherSuite {
  /** IANA name, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256. */
  iana: string;
  /** OpenSSL's name, e.g. ECDHE-RSA-AES128-GCM-SHA256 (for TLS 1.3 suites, the IANA name). */
  openssl: string;
  /** The two bytes on the wire. */
  code: number;
  /** The oldest protocol version that can carry it (GCM and SHA-256/384 MACs need TLS 1.2). */
  since: TlsVersion;
}

function suite(iana: string, openssl: string, code: number, since: TlsVersion): CipherSuite {
  return Object.freeze({ iana, openssl, code, since });
}

/** Every suite a profile names; profiles refer to them by IANA name. */
export const CIPHER_SUITES: ReadonlyMap<string, CipherSuite> = new Map(
  [
    suite('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 0xc02f, 'TLSv1.2'),
    suite('TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256', 'ECDHE-RSA-AES128-SHA256', 0xc027, 'TLSv1.2'),
    suite('TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 'ECDHE-RSA-AES128-SHA', 0xc013, 'TLSv1'),
    suite('TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 0xc030, 'TLSv1.2'),
    suite('TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384', 'ECDHE-RSA-AES256-SHA384', 0xc028, 'TLSv1.2'),
    suite('TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA', 'ECDHE-RSA-AES256-SHA', 0xc014, 'TLSv1'),
    suite('TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDHE-RSA-CHACHA20-POLY1305', 0xcca8, 'TLSv1.2'),
    suite('TLS_RSA_WITH_AES_128_GCM_SHA256', 'AES128-GCM-SHA256', 0x009c, 'TLSv1.2'),
    suite('TLS_RSA_WITH_AES_128_CBC_SHA256', 'AES128-SHA256', 0x003c, 'TLSv1.2'),
    suite('TLS_RSA_WITH_AES_128_CBC_SHA', 'AES128-SHA', 0x002f, 'TLSv1'),
    suite('TLS_RSA_WITH_AES_256_GCM_SHA384', 'AES256-GCM-SHA384', 0x009d, 'TLSv1.2'),
    suite('TLS_RSA_WITH_AES_256_CBC_SHA256', 'AES256-SHA256', 0x003d, 'TLSv1.2'),
    suite('TLS_RSA_WITH_AES_256_CBC_SHA', 'AES256-SHA', 0x0035, 'TLSv1'),
    suite('TLS_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256', 0x1301, 'TLSv1.3'),
    suite('TLS_AES_256_GCM_SHA384', 'TLS_AES_256_GCM_SHA384', 0x1302, 'TLSv1.3'),
    suite('TLS_CHACHA20_POLY1305_SHA256', 'TLS_CHACHA20_POLY1305_SHA256', 0x1303, 'TLSv1.3'),
  ].map((s) => [s.iana, s]),
);

export type TlsProfileName = 'modern' | 'vendor-2024';

export interface TlsProfile {
  name: TlsProfileName;
  /** One line for --help and the README. */
  description: string;
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
  /** TLS 1.0–1.2 suites (IANA names), in the server's order when `serverPreference`. */
  suites: readonly string[];
  /** TLS 1.3 suites (IANA names); empty when maxVersion is below TLS 1.3. */
  tls13Suites: readonly string[];
  /** The server picks by its own order (honorCipherOrder) rather than the client's. */
  serverPreference: boolean;
  /**
   * OpenSSL security level, when the default (1 in Node 20) would refuse what the profile
   * promises: OpenSSL 3 allows TLS 1.0/1.1 (whose handshakes sign with SHA-1) only at level 0.
   */
  securityLevel?: 0;
}

export const TLS_PROFILES: Readonly<Record<TlsProfileName, TlsProfile>> = Object.freeze({
  modern: Object.freeze({
    name: 'modern',
    description: 'TLS 1.2 and 1.3, forward-secret AEAD suites only (Mozilla intermediate), client\'s order',
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    suites: Object.freeze([
      'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
      'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
    ]),
    tls13Suites: Object.freeze(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']),
    serverPreference: false,
  }),
  'vendor-2024': Object.freeze({
    name: 'vendor-2024',
    description: 'the vendor network guide\'s table: TLS 1.0, 1.1 and 1.2, no TLS 1.3, its 12 suites in its server-preferred order',
    minVersion: 'TLSv1',
    maxVersion: 'TLSv1.2',
    // The guide's "TLS 1.2 in server preferred order", verbatim. Its TLS 1.1 and 1.0 lists are
    // this list's SHA-1 CBC suites in the same order, which is what OpenSSL offers below 1.2.
    suites: Object.freeze([
      'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
      'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256',
      'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
      'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384',
      'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA',
      'TLS_RSA_WITH_AES_128_GCM_SHA256',
      'TLS_RSA_WITH_AES_128_CBC_SHA256',
      'TLS_RSA_WITH_AES_128_CBC_SHA',
      'TLS_RSA_WITH_AES_256_GCM_SHA384',
      'TLS_RSA_WITH_AES_256_CBC_SHA256',
      'TLS_RSA_WITH_AES_256_CBC_SHA',
    ]),
    tls13Suites: Object.freeze([]),
    serverPreference: true,
    securityLevel: 0,
  }),
});

export const TLS_PROFILE_NAMES = Object.keys(TLS_PROFILES) as TlsProfileName[];
export const DEFAULT_TLS_PROFILE: TlsProfileName = 'modern';

export class TlsProfileError extends Error {
  constructor(readonly given: string) {
    super(`unknown TLS profile ${JSON.stringify(given)}: expected one of ${TLS_PROFILE_NAMES.map((n) => `${n} (${TLS_PROFILES[n].description})`).join('; ')}`);
    this.name = 'TlsProfileError';
  }
}

/** The profile of that name; a TlsProfileError listing the profiles for anything else. */
export function tlsProfile(name: string = DEFAULT_TLS_PROFILE): TlsProfile {
  if (!Object.prototype.hasOwnProperty.call(TLS_PROFILES, name)) throw new TlsProfileError(name);
  return TLS_PROFILES[name as TlsProfileName];
}

function cipherSuite(iana: string): CipherSuite {
  const found = CIPHER_SUITES.get(iana);
  if (!found) throw new Error(`TLS profile names ${iana}, which CIPHER_SUITES does not map to OpenSSL`);
  return found;
}

function versionIndex(v: TlsVersion): number {
  return TLS_VERSIONS.indexOf(v);
}

/** The profile's versions, oldest first. */
export function profileVersions(profile: TlsProfile): TlsVersion[] {
  return TLS_VERSIONS.filter((v) => versionIndex(v) >= versionIndex(profile.minVersion) && versionIndex(v) <= versionIndex(profile.maxVersion));
}

/**
 * What a client negotiating `version` can get from this profile, in the server's order (for
 * TLS 1.0/1.1, the TLS 1.2 list without the suites that need 1.2); [] for a version the
 * profile does not speak.
 */
export function suitesFor(profile: TlsProfile, version: TlsVersion): CipherSuite[] {
  if (!profileVersions(profile).includes(version)) return [];
  if (version === 'TLSv1.3') return profile.tls13Suites.map(cipherSuite);
  return profile.suites.map(cipherSuite).filter((s) => versionIndex(s.since) <= versionIndex(version));
}

/** The node:tls options that make a server speak this profile. */
export function tlsServerOptions(profile: TlsProfile): { minVersion: TlsVersion; maxVersion: TlsVersion; ciphers: string; honorCipherOrder: boolean } {
  const names = [...profile.tls13Suites, ...profile.suites].map((n) => cipherSuite(n).openssl);
  if (profile.securityLevel !== undefined) names.push(`@SECLEVEL=${profile.securityLevel}`);
  return {
    minVersion: profile.minVersion,
    maxVersion: profile.maxVersion,
    ciphers: names.join(':'),
    honorCipherOrder: profile.serverPreference,
  };
}
