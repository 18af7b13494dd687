/**
 * `mdmsim serve --tls-profile` and `mdmsim network check` as a user runs them (child processes,
 * real sockets), and a simulated Mac enrolling and running its agent against a server on the
 * vendor's profile.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { startLab, type Lab } from '../../lab/lab';
import { checkTls } from '../../index';
import { startServer } from '../../server/server';
import { TlsProfileError } from '../../server/http/tls-profiles';
import { runCli } from '../helpers/cli';

jest.setTimeout(60_000);

const root = join(__dirname, '../..');
const bin = join(root, 'bin/mdmsim.js');
const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-tls-cli-'));

beforeAll(() => {
  if (!existsSync(join(root, 'dist/lab/cli.js'))) throw new Error('dist/ is missing: npm test builds it first (npm run build)');
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** `mdmsim serve` (or lab, without a scenario, in a temporary data dir of its own) until its ready line. */
function serve(args: string[], command = 'serve'): Promise<{ child: ChildProcess; ready: any }> {
  const child = spawn(process.execPath, [bin, command, '--port', '0', ...(command === 'serve' ? ['--data-dir', dataDir] : []), '--log-level', 'warn', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, ready: JSON.parse(line) }));
    child.once('exit', (code) => reject(new Error(`mdmsim serve exited with ${code}:\n${err}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('mdmsim serve --tls-profile vendor-2024 and mdmsim network check', () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child) await stop(child);
  });

  it('serves the guide\'s table, and network check prints it as SSL Labs does (table) or as JSON', async () => {
    const served = await serve(['--tls-profile', 'vendor-2024']);
    child = served.child;
    const base = served.ready.mdm.replace(/\/mdm$/, '');
    const [table, json] = await Promise.all([runCli(['network', 'check', base, '--ca', served.ready.caCert]), runCli(['network', 'check', base, '--ca', served.ready.caCert, '--format', 'json'])]);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    const out = table.stdout;
    // Sections in SSL Labs' order, and its wording.
    expect(out.indexOf('Certificate')).toBeLessThan(out.indexOf('Protocols'));
    expect(out.indexOf('Protocols')).toBeLessThan(out.indexOf('Cipher Suites'));
    expect(out).toMatch(/^ {2}TLS 1\.3 {2}No$/m);
    expect(out).toMatch(/^ {2}TLS 1\.2 {2}Yes$/m);
    expect(out).toMatch(/^ {2}TLS 1\.0 {2}Yes$/m);
    expect(out).toMatch(/^ {2}Trusted +Yes: chains to .*ca\.pem$/m);
    expect(out).toMatch(/^ {2}Key +RSA 2048 bits$/m);
    const tls12 = out.slice(out.indexOf('# TLS 1.2 (in server-preferred order)'), out.indexOf('# TLS 1.1'));
    expect(tls12.split('\n').slice(1, 4).map((l) => l.trim().split(/\s+/)[0])).toEqual([
      'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
      'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256',
      'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
    ]);
    expect(out).not.toContain('No-SNI');

    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.protocols.filter((p: any) => p.negotiated).map((p: any) => p.version)).toEqual(['TLSv1.2', 'TLSv1.1', 'TLSv1']);
    expect(report.cipherSuites[0].suites).toHaveLength(12);
    expect(report.certificate.trust.chains).toBe(true);

    // The tenant's device domain, as the Macs reach it: SNI and the host-name check use the name.
    const tenantOrigin = new URL(served.ready.deviceUrls.mdm).origin;
    const byName = await runCli(['network', 'check', tenantOrigin, '--resolve', `*.${served.ready.tenant.zone}:127.0.0.1`, '--ca', served.ready.caCert, '--format', 'json']);
    expect(byName.stderr).toBe('');
    const named = JSON.parse(byName.stdout);
    expect(named.target.sni).toBe(new URL(tenantOrigin).hostname);
    expect(named.certificate).toMatchObject({ hostnameMatches: true, trust: { chains: true } });
    expect(named.cipherSuites[0].suites).toHaveLength(12);
  });

  it('mdmsim lab --tls-profile vendor-2024 serves TLS 1.0 (openssl s_client)', async () => {
    const lab = await serve(['--tls-profile', 'vendor-2024', '--devices', '0'], 'lab');
    try {
      const port = new URL(lab.ready.mdm).port;
      const tls10 = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-brief', '-tls1', '-cipher', 'ALL:@SECLEVEL=0'], { input: '', encoding: 'utf8' });
      expect(tls10.status).toBe(0);
      expect(tls10.stderr).toMatch(/^Ciphersuite: ECDHE-RSA-AES128-SHA$/m);
    } finally {
      expect(await stop(lab.child)).toBe(0);
    }
  });

  it('refuses an unknown profile, listing the profiles', async () => {
    const r = await runCli(['serve', '--port', '0', '--data-dir', dataDir, '--tls-profile', 'tls13-only']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--tls-profile.*unknown TLS profile "tls13-only": expected one of modern \(.*\); vendor-2024 \(/s);
    await expect(startServer({ port: 0, dataDir, tlsProfile: 'tls13-only' as never })).rejects.toThrow(TlsProfileError);
  });

  it('fails with a reason and exit code 1 for a refused port, a URL that is not https, and an unreadable --ca', async () => {
    const [refused, notHttps, badCa] = await Promise.all([
      // Port 1 on loopback: nothing listens there unprivileged.
      runCli(['network', 'check', 'https://127.0.0.1:1']),
      runCli(['network', 'check', 'ftp://127.0.0.1']),
      runCli(['network', 'check', 'https://127.0.0.1:1', '--ca', join(dataDir, 'no-such-ca.pem')]),
    ]);
    expect([refused.code, refused.stdout]).toEqual([1, '']);
    expect(refused.stderr).toBe('mdmsim: network check: connection to 127.0.0.1:1 refused: nothing is listening there (is the server running, on that port?)\n');
    expect(notHttps.code).toBe(1);
    expect(notHttps.stderr).toMatch(/must be https:\/\/ \(got ftp\)/);
    expect(badCa.code).toBe(1);
    expect(badCa.stderr).toMatch(/--ca .*no-such-ca\.pem: ENOENT/);
  });
});

describe('a simulated Mac on the vendor profile', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ devices: 1, server: { tlsProfile: 'vendor-2024' } });
  });
  afterAll(() => lab?.stop());

  it('enrolls, installs the agent and checks in over TLS 1.2, the newest the server speaks', async () => {
    await lab.advance('20m');
    const udid = lab.macs[0]!.udid;
    const events = lab.server.events.query({ udid, types: ['mdm.checkin', 'agent.checkin'], limit: 1000 });
    expect(events.filter((e) => e.type === 'mdm.checkin').map((e) => e.data?.messageType)).toEqual(expect.arrayContaining(['Authenticate', 'TokenUpdate']));
    expect(events.filter((e) => e.type === 'agent.checkin').length).toBeGreaterThan(0);
    const report = await checkTls(lab.server.url);
    expect(report.protocols.find((p) => p.version === 'TLSv1.3')!.negotiated).toBe(false);
    // What a client with Node's TLS defaults (agent-sim's pools have them) negotiates: TLS 1.2, the guide's first suite.
    const { port, hostname } = new URL(lab.server.url);
    const negotiated = await new Promise<[string | null, string]>((resolve, reject) => {
      const s = connect({ host: hostname, port: Number(port), ca: readFileSync(lab.server.info.caCert) }, () => {
        resolve([s.getProtocol(), s.getCipher().standardName]);
        s.destroy();
      });
      s.once('error', reject);
    });
    expect(negotiated).toEqual(['TLSv1.2', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256']);
  });
});
