/**
 * The TLS profiles of the real server on port 0, seen by the openssl binary (s_client) and by
 * `network check` (lab/network-check.ts), which must agree: vendor-2024 is the vendor guide's
 * table (TLS 1.0-1.2, no 1.3, its suites in its order, whatever order the client offers);
 * modern refuses TLS 1.0/1.1 and speaks 1.3.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Resolver } from '../../agent-sim/network/resolver';
import { checkTls, NetworkCheckError, type NetworkCheckReport } from '../../lab/network-check';
import { CIPHER_SUITES, TLS_PROFILES, type TlsVersion } from '../../server/http/tls-profiles';
import { SEED_TLS } from '../helpers/seed-tls';
import { startTestServer, type TestServer } from '../helpers/server';


const FLAG: Record<TlsVersion, string> = { TLSv1: '-tls1', 'TLSv1.1': '-tls1_1', 'TLSv1.2': '-tls1_2', 'TLSv1.3': '-tls1_3' };
/** What `openssl s_client -brief` calls each version. */
const OPENSSL_PROTOCOL: Record<TlsVersion, string> = { TLSv1: 'TLSv1', 'TLSv1.1': 'TLSv1.1', 'TLSv1.2': 'TLSv1.2', 'TLSv1.3': 'TLSv1.3' };
const ALL_VERSIONS: TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

interface SClient {
  ok: boolean;
  protocol?: string;
  /** OpenSSL's name, as s_client prints it. */
  cipher?: string;
  verification?: string;
  output: string;
}

/** One `openssl s_client -brief` handshake; stdin is /dev/null, so it ends right after. */
function sClient(port: number, args: string[]): Promise<SClient> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-brief', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      const field = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(output)?.[1]?.trim();
      resolve({ ok: code === 0 && output.includes('CONNECTION ESTABLISHED'), protocol: field('Protocol version'), cipher: field('Ciphersuite'), verification: field('Verification'), output });
    });
  });
}

/** The classic enumeration, with openssl: offer everything, drop what the server chose, repeat. IANA names. */
async function opensslOrder(port: number, version: TlsVersion): Promise<string[]> {
  const chosen: string[] = [];
  for (let i = 0; i < 64; i++) {
    const cipher = ['ALL', ...chosen.map((c) => `!${c}`), '@SECLEVEL=0'].join(':');
    const r = await sClient(port, [FLAG[version], '-cipher', cipher]);
    if (!r.ok) break;
    chosen.push(r.cipher!);
  }
  // s_client prints OpenSSL names: back to IANA names through the profiles' table (checked against openssl by the unit test).
  const iana = new Map([...CIPHER_SUITES.values()].map((s) => [s.openssl, s.iana]));
  return chosen.map((c) => iana.get(c) ?? `${c} (not in CIPHER_SUITES)`);
}

let vendor: TestServer;
let modern: TestServer;
let vendorPort: number;
let modernPort: number;

beforeAll(async () => {
  [vendor, modern] = await Promise.all([startTestServer({ tlsProfile: 'vendor-2024' }), startTestServer({ tlsProfile: 'modern' })]);
  vendorPort = Number(new URL(vendor.server.url).port);
  modernPort = Number(new URL(modern.server.url).port);
});
afterAll(async () => {
  await vendor?.stop();
  await modern?.stop();
});

describe('vendor-2024, through openssl s_client', () => {
  it('negotiates TLS 1.0, 1.1 and 1.2, with SNI and without, on a certificate that chains to the CA; refuses TLS 1.3', async () => {
    const ca = vendor.server.info.caCert;
    const runs = await Promise.all(
      ['TLSv1', 'TLSv1.1', 'TLSv1.2'].flatMap((v) =>
        [['-servername', 'localhost'], ['-noservername']].map(async (sni) => ({ v, sni, r: await sClient(vendorPort, [FLAG[v as TlsVersion], '-cipher', 'ALL:@SECLEVEL=0', '-CAfile', ca, ...sni]) })),
      ),
    );
    for (const { v, r } of runs) {
      expect({ v, ok: r.ok, protocol: r.protocol, verification: r.verification }).toEqual({ v, ok: true, protocol: OPENSSL_PROTOCOL[v as TlsVersion], verification: 'OK' });
    }
    const tls13 = await sClient(vendorPort, ['-tls1_3', '-servername', 'localhost']);
    expect(tls13.ok).toBe(false);
    expect(tls13.output).toMatch(/protocol version|alert/i);
  });

  it('picks the guide\'s first suite whatever order the client offers them in (honorCipherOrder)', async () => {
    const [tls12, tls11, tls10, rsaOnly] = await Promise.all([
      sClient(vendorPort, ['-tls1_2', '-cipher', 'AES256-SHA:AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256']),
      sClient(vendorPort, ['-tls1_1', '-cipher', 'AES256-SHA:AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA:@SECLEVEL=0']),
      sClient(vendorPort, ['-tls1', '-cipher', 'AES256-SHA:AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA:@SECLEVEL=0']),
      sClient(vendorPort, ['-tls1_2', '-cipher', 'AES256-SHA:AES256-SHA256:AES128-SHA']),
    ]);
    expect(tls12.cipher).toBe('ECDHE-RSA-AES128-GCM-SHA256');
    expect(tls11.cipher).toBe('ECDHE-RSA-AES128-SHA');
    expect(tls10.cipher).toBe('ECDHE-RSA-AES128-SHA');
    // Among the RSA key-exchange suites too: AES_128_CBC_SHA comes before AES_256_CBC_SHA256 in the table.
    expect(rsaOnly.cipher).toBe('AES128-SHA');
  });

  it('refuses suites outside the table', async () => {
    const [chacha, dhe] = await Promise.all([
      sClient(vendorPort, ['-tls1_2', '-cipher', 'ECDHE-RSA-CHACHA20-POLY1305']),
      sClient(vendorPort, ['-tls1_2', '-cipher', 'DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0']),
    ]);
    expect(chacha.ok).toBe(false);
    expect(dhe.ok).toBe(false);
  });

  it('enumerated by openssl, each version\'s suites come out in the guide\'s order', async () => {
    const [tls12, tls11, tls10] = await Promise.all([opensslOrder(vendorPort, 'TLSv1.2'), opensslOrder(vendorPort, 'TLSv1.1'), opensslOrder(vendorPort, 'TLSv1')]);
    expect(tls12).toEqual(SEED_TLS.tls12);
    expect(tls11).toEqual(SEED_TLS.tls11);
    expect(tls10).toEqual(SEED_TLS.tls10);
  });
});

describe('modern, through openssl s_client', () => {
  it('refuses TLS 1.0 and 1.1 even to a client at security level 0; accepts 1.2 and 1.3', async () => {
    const runs = await Promise.all(ALL_VERSIONS.map((v) => sClient(modernPort, [FLAG[v], ...(v === 'TLSv1.3' ? [] : ['-cipher', 'ALL:@SECLEVEL=0']), '-CAfile', modern.server.info.caCert])));
    expect(runs.map((r) => r.ok)).toEqual([false, false, true, true]);
    expect(runs[2]!.protocol).toBe('TLSv1.2');
    expect(runs[3]!.protocol).toBe('TLSv1.3');
    expect(runs[3]!.verification).toBe('OK');
  });

  it('refuses TLS 1.2 suites without forward secrecy or AEAD, and takes the client\'s order among its own', async () => {
    const [rsaKx, cbc, clientFirst] = await Promise.all([
      sClient(modernPort, ['-tls1_2', '-cipher', 'AES128-GCM-SHA256']),
      sClient(modernPort, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA']),
      sClient(modernPort, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256']),
    ]);
    expect(rsaKx.ok).toBe(false);
    expect(cbc.ok).toBe(false);
    expect(clientFirst.cipher).toBe('ECDHE-RSA-AES256-GCM-SHA384');
  });
});

describe('network check agrees with openssl', () => {
  let vendorReport: NetworkCheckReport;
  let modernReport: NetworkCheckReport;
  beforeAll(async () => {
    [vendorReport, modernReport] = await Promise.all([
      checkTls(vendor.server.url, { ca: readFileSync(vendor.server.info.caCert), caLabel: 'vendor ca.pem' }),
      checkTls(modern.server.url, { ca: readFileSync(modern.server.info.caCert) }),
    ]);
  });

  it('vendor-2024: the guide\'s protocols and, per version, its suites in server-preferred order', async () => {
    expect(vendorReport.protocols.map((p) => [p.label, p.negotiated])).toEqual([
      ['TLS 1.3', false],
      ['TLS 1.2', true],
      ['TLS 1.1', true],
      ['TLS 1.0', true],
    ]);
    expect(vendorReport.cipherSuites.map((v) => [v.label, v.serverPreference, v.suites.map((s) => s.iana)])).toEqual([
      ['TLS 1.2', true, SEED_TLS.tls12],
      ['TLS 1.1', true, SEED_TLS.tls11],
      ['TLS 1.0', true, SEED_TLS.tls10],
    ]);
    // The same versions as openssl, and openssl's first pick when offered everything is the check's first suite.
    const picks = await Promise.all(ALL_VERSIONS.map((v) => sClient(vendorPort, [FLAG[v], ...(v === 'TLSv1.3' ? [] : ['-cipher', 'ALL:@SECLEVEL=0'])])));
    for (const [i, v] of ALL_VERSIONS.entries()) {
      const p = vendorReport.protocols.find((x) => x.version === v)!;
      expect([v, p.negotiated]).toEqual([v, picks[i]!.ok]);
      const suites = vendorReport.cipherSuites.find((x) => x.version === v);
      if (picks[i]!.ok) expect(suites!.suites[0]!.openssl).toBe(picks[i]!.cipher);
    }
    const ecdhe = vendorReport.cipherSuites[0]!.suites[0]!;
    expect(ecdhe).toMatchObject({ openssl: 'ECDHE-RSA-AES128-GCM-SHA256', forwardSecrecy: true });
    expect(ecdhe.keyExchange).toMatch(/^ECDH /);
    expect(vendorReport.cipherSuites[0]!.suites.find((s) => s.iana === 'TLS_RSA_WITH_AES_128_CBC_SHA')).toMatchObject({ keyExchange: 'RSA', forwardSecrecy: false });
  });

  it('modern: TLS 1.3 and 1.2 only, its suites, and no server preference (it takes the client\'s order)', async () => {
    expect(modernReport.protocols.map((p) => [p.label, p.negotiated])).toEqual([
      ['TLS 1.3', true],
      ['TLS 1.2', true],
      ['TLS 1.1', false],
      ['TLS 1.0', false],
    ]);
    const [tls13, tls12] = modernReport.cipherSuites;
    expect(tls13!.suites.map((s) => s.iana).sort()).toEqual([...TLS_PROFILES.modern.tls13Suites].sort());
    expect(tls12!.suites.map((s) => s.iana).sort()).toEqual([...TLS_PROFILES.modern.suites].sort());
    expect([tls13!.serverPreference, tls12!.serverPreference]).toEqual([false, false]);
    expect(modernReport.protocols.find((p) => p.version === 'TLSv1')!.refusal).toMatch(/protocol version|alert/i);
  });

  it('reports the certificate: names, RSA 2048 key, issuer, validity, and that it chains to --ca', () => {
    const cert = vendorReport.certificate!;
    expect(cert.subject).toMatch(/CN=127\.0\.0\.1/);
    expect(cert.altNames).toEqual(expect.arrayContaining(['DNS:localhost', 'IP Address:127.0.0.1']));
    expect(cert.key).toBe('RSA 2048 bits');
    expect(cert.issuer).toMatch(/O=mdmsim/);
    expect(Date.parse(cert.validTo)).toBeGreaterThan(Date.parse(cert.validFrom));
    expect(cert.daysLeft).toBeGreaterThan(300);
    expect(cert.hostnameMatches).toBe(true);
    expect(cert.trust).toEqual({ anchor: 'ca', caLabel: 'vendor ca.pem', chains: true });
  });

  it('says when the certificate does not chain to the CA given, or to Node\'s roots without one', async () => {
    const [otherCa, noCa] = await Promise.all([checkTls(vendor.server.url, { ca: readFileSync(modern.server.info.caCert) }), checkTls(vendor.server.url)]);
    expect(otherCa.certificate!.trust).toMatchObject({ anchor: 'ca', chains: false });
    expect(otherCa.certificate!.trust.error).toMatch(/^[A-Z_]+$/);
    expect(noCa.certificate!.trust).toMatchObject({ anchor: 'node-roots', chains: false });
  });
});

describe('network check on other hosts', () => {
  const servers: Array<NetServer | TlsServer> = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });
  const listen = async <S extends NetServer | TlsServer>(server: S): Promise<number> => {
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  };

  it('marks what negotiates only without SNI, as SSL Labs does: "(*) Server negotiated using No-SNI"', async () => {
    const pem = readFileSync(vendor.server.info.caCert.replace(/ca\.pem$/, 'server.pem'));
    const key = readFileSync(vendor.server.info.caCert.replace(/ca\.pem$/, 'server-key.pem'));
    // A server that fails every handshake that names a host.
    const port = await listen(createTlsServer({ cert: pem, key, maxVersion: 'TLSv1.2', SNICallback: (_name, cb) => cb(new Error('no such virtual host')) }, (s) => s.end()));
    const report = await checkTls(`https://localhost:${port}`);
    expect(report.target.sni).toBe('localhost');
    expect(report.protocols.map((p) => [p.label, p.negotiated, p.noSni])).toEqual([
      ['TLS 1.3', false, false],
      ['TLS 1.2', true, true],
      ['TLS 1.1', false, false],
      ['TLS 1.0', false, false],
    ]);
    expect(report.cipherSuites[0]!.suites.length).toBeGreaterThan(1);
  });

  it('fails with a reason for a refused port, a port that is not TLS, a host that never answers, a name that does not resolve, and a bad URL', async () => {
    const closed = await listen(createNetServer());
    await new Promise((r) => servers.pop()!.close(r));
    await expect(checkTls(`https://127.0.0.1:${closed}`)).rejects.toMatchObject({ code: 'refused', message: expect.stringContaining(`127.0.0.1:${closed} refused`) });

    // Both read what they are sent (resume), so they see the probes hang up and close.
    const http = await listen(createNetServer((s) => s.resume().end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    await expect(checkTls(`https://127.0.0.1:${http}`)).rejects.toMatchObject({ code: 'no-tls', message: expect.stringMatching(/no TLS version .* negotiates .*is it a TLS port/) });

    const silent = await listen(createNetServer((s) => s.resume()));
    await expect(checkTls(`127.0.0.1:${silent}`, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'no-tls', message: expect.stringContaining('no answer to the ClientHello within 200 ms') });

    const nowhere = new Resolver({}).lookup; // knows no name: ENOTFOUND, as getaddrinfo says it
    await expect(checkTls('https://mdm.example.test', { lookup: nowhere })).rejects.toMatchObject({ code: 'unresolved', message: expect.stringContaining('cannot resolve mdm.example.test (ENOTFOUND)') });

    await expect(checkTls('http://127.0.0.1:8443')).rejects.toThrow(NetworkCheckError);
    await expect(checkTls('http://127.0.0.1:8443')).rejects.toMatchObject({ code: 'bad-url', message: expect.stringContaining('must be https://') });
    await expect(checkTls('https://')).rejects.toMatchObject({ code: 'bad-url' });
    await expect(checkTls(vendor.server.url, { ca: 'not a certificate' })).rejects.toMatchObject({ code: 'bad-ca', message: 'the CA: expected a PEM certificate (-----BEGIN CERTIFICATE-----)' });
  });
});
