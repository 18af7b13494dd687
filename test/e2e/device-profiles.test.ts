/**
 * What a Mac has installed, over the wire: GET /sim/v1/devices/{udid}/profiles on a lab whose
 * Macs enrolled by the tenant's names (the enrollment profile served to that Mac's identity,
 * then acknowledged InstallProfile and RemoveProfile commands, checked against the Mac's own
 * ProfileList), and `mdmsim device <udid> profiles` printing it as system_profiler does, so the
 * guide's awk line finds the Mac's device domain.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands } from '../../protocol/command';
import { formatSystemProfiler, type DeviceProfilesJson } from '../../protocol/installed-profiles';
import { buildPlistBuffer, parsePlist } from '../../protocol/plist';
import type { PlistDict } from '../../protocol/plist/types';
import { tenantDomains } from '../../protocol/tenant';
import { IssuedProfiles } from '../../server/enroll/issued-profiles';
import { PROFILE_IDENTIFIER } from '../../server/enroll/profile';
import { startLab, type Lab } from '../../lab/lab';
import { loadOrCreateCa } from '../../server/pki';
import { HttpsClient, TestMac, macIdentity } from '../helpers/mdm-client';
import { startTestServer, type TestServer } from '../helpers/server';

const bin = join(__dirname, '../../bin/mdmsim.js');

/** Runs a command to its end without blocking this process (the lab's server answers in it). */
function run(cmd: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

function dockProfile(identifier: string): Buffer {
  return buildPlistBuffer({
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: identifier,
    PayloadUUID: randomUUID().toUpperCase(),
    PayloadDisplayName: 'Dock',
    PayloadOrganization: 'Example Corp',
    PayloadContent: [{ PayloadType: 'com.apple.dock', PayloadVersion: 1, PayloadIdentifier: `${identifier}.dock`, PayloadUUID: randomUUID().toUpperCase(), PayloadDisplayName: 'Dock settings', autohide: true, orientation: 'left' }],
  });
}

let lab: Lab;
let http: HttpsClient;
const profilesOf = async (udid: string) => {
  const r = await http.api('GET', `/sim/v1/devices/${udid}/profiles`, lab.server.apiToken);
  return { status: r.status, json: r.json as DeviceProfilesJson };
};

beforeAll(async () => {
  lab = await startLab({ devices: 2 });
  http = HttpsClient.for(lab.server);
});
afterAll(async () => {
  http?.close();
  await lab?.stop();
});

describe('GET /sim/v1/devices/{udid}/profiles', () => {
  it('shows the enrollment profile served to this Mac: its payloads, the tenant\'s ServerURL and CheckInURL, the Topic and the identity bound at Authenticate', async () => {
    const mac = lab.mac(0);
    const { status, json } = await profilesOf(mac.udid);
    expect(status).toBe(200);
    const port = new URL(lab.server.url).port;
    const device = tenantDomains(lab.server.tenant).device;
    const record = lab.device(0)!;
    expect(json.udid).toBe(mac.udid);
    expect(json.notes).toEqual([]);
    expect(json.mdm).toEqual({
      serverURL: `https://${device}:${port}/mdm/connect`,
      checkInURL: `https://${device}:${port}/mdm/checkin`,
      topic: lab.server.pushCert.topic,
      identityCertificateUUID: json.profiles[0]!.payloads[1]!.uuid,
      identity: { sha256: record.identityCertSha256, commonName: expect.stringMatching(/^mdmsim device identity [0-9A-F-]{36}$/) },
    });
    const enrollment = json.profiles[0]!;
    expect(enrollment).toMatchObject({
      identifier: PROFILE_IDENTIFIER,
      displayName: 'mdmsim enrollment',
      organization: 'mdmsim',
      installedBy: 'enrollment',
      installedAt: new Date(record.authenticatedAt).toISOString(),
      verificationState: 'Verified',
      removalDisallowed: false,
    });
    expect(enrollment.payloads.map((p) => p.type)).toEqual(['com.apple.security.root', 'com.apple.security.pkcs12', 'com.apple.mdm']);
    // No secrets: the PKCS#12 and its password are not shown.
    expect(enrollment.payloads[1]!.data).toEqual({ PayloadCertificateFileName: 'mdm-identity.p12' });
    expect(enrollment.payloads[2]!.data).toMatchObject({ ServerURL: json.mdm!.serverURL, CheckInURL: json.mdm!.checkInURL, Topic: json.mdm!.topic, SignMessage: true, AccessRights: 8191 });

    // The same identifiers and UUIDs the Mac itself reports in ProfileList.
    const commandUUID = await lab.command(0, commands.ProfileList());
    const reported = parsePlist(lab.server.store.listResults({ commandUUID })[0]!.raw) as PlistDict;
    const list = reported.ProfileList as PlistDict[];
    expect(list.map((p) => [p.PayloadIdentifier, p.PayloadUUID])).toEqual(json.profiles.map((p) => [p.identifier, p.uuid]));
  });

  it('adds an acknowledged InstallProfile and drops it after an acknowledged RemoveProfile, as the Mac does', async () => {
    const mac = lab.mac(1);
    const install = await lab.command(1, commands.InstallProfile({ Payload: dockProfile('com.example.dock') }));
    let { json } = await profilesOf(mac.udid);
    expect(json.profiles.map((p) => p.identifier)).toEqual([PROFILE_IDENTIFIER, 'com.example.dock']);
    expect(json.profiles[1]).toMatchObject({ installedBy: 'InstallProfile', commandUUID: install, verificationState: 'Unsigned', organization: 'Example Corp' });
    expect(json.profiles[1]!.payloads[0]).toMatchObject({ type: 'com.apple.dock', displayName: 'Dock settings', data: { autohide: true, orientation: 'left' } });

    await lab.command(1, commands.RemoveProfile({ Identifier: 'com.example.dock' }));
    ({ json } = await profilesOf(mac.udid));
    expect(json.profiles.map((p) => p.identifier)).toEqual([PROFILE_IDENTIFIER]);
    // A RemoveProfile the Mac refused (nothing by that name) changes nothing.
    await lab.command(1, commands.RemoveProfile({ Identifier: 'com.example.never' }));
    expect((await profilesOf(mac.udid)).json.profiles).toHaveLength(1);
  });

  it('finds an older issue in the event log when it is no longer in memory (as after a restart on a durable store)', () => {
    const sha = lab.device(0)!.identityCertSha256!;
    const fromEvents = new IssuedProfiles(lab.server.events, 0);
    expect(fromEvents.find(sha)).toEqual(lab.server.issuedProfiles.find(sha));
    expect(fromEvents.find('0'.repeat(64))).toBeUndefined();
  });

  it('answers 404 for an unknown Mac and 401 without the token', async () => {
    expect((await profilesOf('NOT-A-MAC')).json).toMatchObject({ error: { code: 'unknown-enrollment' } });
    expect((await http.send('GET', `/sim/v1/devices/${lab.mac(0).udid}/profiles`)).status).toBe(401);
  });
});

describe('mdmsim device <udid> profiles', () => {
  it("prints what system_profiler shows, so the guide's awk line prints the Mac's device domain and port", async () => {
    const mac = lab.mac(0);
    const cli = await run(process.execPath, [bin, 'device', mac.udid, 'profiles', '--server', lab.server.url, '--ca', lab.server.info.caCert, '--api-token', lab.server.apiToken]);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toBe(formatSystemProfiler((await profilesOf(mac.udid)).json));
    expect(cli.stdout).toMatch(/^Configuration Profiles:\n\n {4}Device Configuration Profiles:\n\n {8}mdmsim enrollment:\n/);
    expect(cli.stdout).toContain('          Verification State: Verified\n');
    expect(cli.stdout).toContain('          com.apple.mdm:\n');
    const awk = await run('awk', ['-v', "FS=(https://|/mdm)", '/CheckInURL/ {print $2}'], cli.stdout);
    expect(awk.code).toBe(0);
    expect(awk.stdout).toBe(`${tenantDomains(lab.server.tenant).device}:${new URL(lab.server.url).port}\n`);
  });

  it('fails clearly for an unknown Mac, a wrong token and an unreachable server', async () => {
    const common = ['--ca', lab.server.info.caCert];
    const unknown = await run(process.execPath, [bin, 'device', 'NOPE', 'profiles', '--server', lab.server.url, ...common, '--api-token', lab.server.apiToken]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('404 unknown-enrollment: no enrollment NOPE');
    const badToken = await run(process.execPath, [bin, 'device', lab.mac(0).udid, 'profiles', '--server', lab.server.url, ...common, '--api-token', 'wrong']);
    expect(badToken.stderr).toContain('refused the API token');
    const noData = await run(process.execPath, [bin, 'device', lab.mac(0).udid, 'profiles', '--data-dir', '/nonexistent/mdmsim']);
    expect(noData.stderr).toContain('cannot read /nonexistent/mdmsim/ca.pem (ENOENT): give --ca, or --data-dir of the server');
    const unreachable = await run(process.execPath, [bin, 'device', lab.mac(0).udid, 'profiles', '--server', 'https://127.0.0.1:1', ...common, '--api-token', lab.server.apiToken]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot reach https://127.0.0.1:1 (ECONNREFUSED): is mdmsim serve running there? Give its address with --server');
  });

  it("says a wrong --ca is not the server's CA (the server is there), not that the server is unreachable", async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'mdmsim-other-ca-'));
    try {
      const other = await loadOrCreateCa(otherDir);
      const cli = await run(process.execPath, [bin, 'device', lab.mac(0).udid, 'profiles', '--server', lab.server.url, '--ca', other.certPath, '--api-token', lab.server.apiToken]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain(`--ca ${other.certPath} is not this server's CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE from ${lab.server.url})`);
      expect(cli.stderr).toContain("give --ca the file the ready line's caCert names");
      expect(cli.stderr).not.toContain('cannot reach');
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});

describe('what the server cannot know', () => {
  let t: TestServer;
  afterEach(() => t?.stop());

  it('says so when it does not check signatures (no identity binds the Mac to a profile)', async () => {
    t = await startTestServer({ auth: 'none', agentPolicy: { installOnEnrollment: false, inventoryInterval: false } });
    const mac = new TestMac(t.http, macIdentity(7), { sign: false });
    await mac.enroll();
    const r = await t.http.api('GET', `/sim/v1/devices/${mac.udid}/profiles`, t.token);
    expect(r.json).toMatchObject({ profiles: [], mdm: null, notes: [expect.stringContaining('--auth none')] });
  });

  it('shows no profiles after the Mac checked out', async () => {
    t = await startTestServer({ agentPolicy: { installOnEnrollment: false, inventoryInterval: false } });
    const mac = new TestMac(t.http, macIdentity(8));
    await mac.enroll();
    expect((await t.http.api('GET', `/sim/v1/devices/${mac.udid}/profiles`, t.token)).json.profiles).toHaveLength(1);
    await mac.checkin({ MessageType: 'CheckOut', Topic: mac.topic, UDID: mac.udid });
    const r = await t.http.api('GET', `/sim/v1/devices/${mac.udid}/profiles`, t.token);
    expect(r.json).toMatchObject({ profiles: [], mdm: null, notes: [expect.stringContaining('checked out')] });
  });
});
