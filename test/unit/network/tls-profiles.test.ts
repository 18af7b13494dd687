/**
 * The TLS profiles as data: the vendor profile is the network guide's table, every IANA name
 * maps to the OpenSSL name and code point that OpenSSL itself gives (`openssl ciphers -V
 * -stdname`), and the cipher string handed to Node expands, in OpenSSL, to the table's order
 * for each version.
 */
import { execFileSync } from 'node:child_process';
import {
  CIPHER_SUITES,
  DEFAULT_TLS_PROFILE,
  profileVersions,
  suitesFor,
  TLS_PROFILE_NAMES,
  TLS_PROFILES,
  tlsProfile,
  TlsProfileError,
  tlsServerOptions,
  type TlsProfile,
} from '../../../server/http/tls-profiles';
import { SEED_TLS } from '../../helpers/seed-tls';


const vendor = TLS_PROFILES['vendor-2024'];
const modern = TLS_PROFILES.modern;

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8' });
}

/** IANA names, in order, of what OpenSSL makes of a cipher string for one version (TLS 1.3 suites left out). */
function expand(ciphers: string, versionFlag: string): string[] {
  const list = ciphers.split(':').filter((c) => !c.startsWith('TLS_')).join(':');
  return openssl(['ciphers', '-s', versionFlag, '-ciphersuites', '', '-stdname', list])
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(/\s+-\s+/)[0]!.trim());
}

describe('vendor-2024 is the network guide\'s table', () => {
  it('speaks TLS 1.0, 1.1 and 1.2 and not 1.3', () => {
    expect(profileVersions(vendor)).toEqual(['TLSv1', 'TLSv1.1', 'TLSv1.2']);
    expect(Object.entries(SEED_TLS.protocols).filter(([, v]) => v.startsWith('Yes')).map(([k]) => k).sort()).toEqual(['TLS 1.0', 'TLS 1.1', 'TLS 1.2']);
  });

  it('lists each version\'s suites in the guide\'s server-preferred order, and the server honours its order', () => {
    expect(suitesFor(vendor, 'TLSv1.2').map((s) => s.iana)).toEqual(SEED_TLS.tls12);
    expect(suitesFor(vendor, 'TLSv1.1').map((s) => s.iana)).toEqual(SEED_TLS.tls11);
    expect(suitesFor(vendor, 'TLSv1').map((s) => s.iana)).toEqual(SEED_TLS.tls10);
    expect(suitesFor(vendor, 'TLSv1.3')).toEqual([]);
    expect(tlsServerOptions(vendor)).toMatchObject({ minVersion: 'TLSv1', maxVersion: 'TLSv1.2', honorCipherOrder: true });
  });

  it('hands Node a cipher string that OpenSSL expands to exactly that order for each version, at security level 0', () => {
    const { ciphers } = tlsServerOptions(vendor);
    expect(ciphers.endsWith(':@SECLEVEL=0')).toBe(true);
    expect(expand(ciphers, '-tls1_2')).toEqual(SEED_TLS.tls12);
    expect(expand(ciphers, '-tls1_1')).toEqual(SEED_TLS.tls11);
    expect(expand(ciphers, '-tls1')).toEqual(SEED_TLS.tls10);
  });
});

describe('modern', () => {
  it('is the default: TLS 1.2 and 1.3, forward-secret AEAD suites only, in the client\'s order', () => {
    expect(DEFAULT_TLS_PROFILE).toBe('modern');
    expect(tlsProfile()).toBe(modern);
    expect(profileVersions(modern)).toEqual(['TLSv1.2', 'TLSv1.3']);
    for (const s of suitesFor(modern, 'TLSv1.2')) expect(s.iana).toMatch(/^TLS_ECDHE_RSA_WITH_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/);
    expect(suitesFor(modern, 'TLSv1.3').map((s) => s.iana)).toEqual(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']);
    expect(suitesFor(modern, 'TLSv1.1')).toEqual([]);
    const options = tlsServerOptions(modern);
    expect(options).toMatchObject({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', honorCipherOrder: false });
    expect(options.ciphers).not.toContain('SECLEVEL');
    expect(expand(options.ciphers, '-tls1_2')).toEqual(modern.suites);
  });
});

describe('the IANA → OpenSSL mapping', () => {
  // `openssl ciphers -V -stdname`: "0xC0,0x2F - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 - ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 Kx=…"
  const known = new Map(
    openssl(['ciphers', '-V', '-stdname', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'])
      .split('\n')
      .map((line) => /^\s*0x([0-9A-F]{2}),0x([0-9A-F]{2}) - (\S+)\s+- (\S+)\s+(\S+)/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[3]!, { code: parseInt(m[1]! + m[2]!, 16), openssl: m[4]!, version: m[5]! }]),
  );

  it.each([...CIPHER_SUITES.values()].map((s) => [s.iana, s]))('%s: OpenSSL name, code point and oldest version as OpenSSL gives them', (_iana, s) => {
    const o = known.get(s.iana);
    expect(o).toBeDefined();
    expect(s.openssl).toBe(o!.openssl);
    expect(s.code).toBe(o!.code);
    // OpenSSL says SSLv3 or TLSv1 for suites that predate TLS 1.2; all run on TLS 1.0.
    const since = o!.version === 'SSLv3' ? 'TLSv1' : o!.version === 'TLSv1.0' ? 'TLSv1' : o!.version;
    expect(s.since).toBe(since);
  });

  it('covers every suite a profile names', () => {
    const named = Object.values(TLS_PROFILES).flatMap((p: TlsProfile) => [...p.suites, ...p.tls13Suites]);
    for (const n of named) expect(CIPHER_SUITES.has(n)).toBe(true);
  });
});

describe('choosing a profile', () => {
  it('finds each by name', () => {
    for (const name of TLS_PROFILE_NAMES) expect(tlsProfile(name).name).toBe(name);
  });

  it('refuses an unknown name, listing the profiles and what each is', () => {
    expect(() => tlsProfile('vendor')).toThrow(TlsProfileError);
    expect(() => tlsProfile('vendor')).toThrow(/unknown TLS profile "vendor": expected one of modern \(TLS 1\.2 and 1\.3.*\); vendor-2024 \(the vendor network guide's table/);
    // Not a key of Object.prototype either.
    expect(() => tlsProfile('toString')).toThrow(TlsProfileError);
  });
});
