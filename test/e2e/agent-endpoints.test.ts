/**
 * The agent's endpoints on the MDM host, over real sockets: the manifest and the package it
 * describes (hashes that match, chunk by chunk), and the signed check-in with every refusal.
 */
import { AGENT_BUNDLE_ID, AGENT_CHECKIN_PATH, AGENT_MANIFEST_PATH, AGENT_VERSION, agentPackageName } from '../../protocol/agent';
import { parseManifest, verifyAsset } from '../../protocol/manifest';
import { parsePlist } from '../../protocol/plist';
import { validateManifest } from '../../protocol/schema';
import { agentCheckin, apiOf, checkinBody, eventsOf, startAgentServer } from '../helpers/agent';
import { TestMac, macIdentity } from '../helpers/mdm-client';
import type { TestServer } from '../helpers/server';

let t: TestServer;
let api: ReturnType<typeof apiOf>;

beforeAll(async () => {
  t = await startAgentServer();
  api = apiOf(t);
});
afterAll(() => t?.stop());

async function enrolledMac(n = 0): Promise<TestMac> {
  const mac = new TestMac(t.http, macIdentity(n));
  await mac.enroll();
  return mac;
}

describe('GET /agent/manifest.plist and the package', () => {
  it('serves a manifest whose per-chunk hashes match the package it points to', async () => {
    const r = await t.http.send('GET', AGENT_MANIFEST_PATH);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/xml');
    const manifest = parsePlist(r.body);
    expect(validateManifest(manifest as never).ok).toBe(true);
    const [item] = parseManifest(manifest);
    expect(item).toMatchObject({ bundleIdentifier: AGENT_BUNDLE_ID, bundleVersion: AGENT_VERSION });
    const asset = item!.assets[0]!;
    expect(asset.kind).toBe('software-package');
    // Next to the manifest, on the tenant's agent-downloads name.
    expect(asset.url).toBe(`${new URL(t.server.info.deviceUrls.agentManifest).origin}/agent/packages/${agentPackageName(AGENT_VERSION)}`);
    expect(asset.sha256Size).toBe(16 * 1024);
    expect(asset.sha256s).toHaveLength(4);
    expect(asset.md5s).toHaveLength(4);

    const pkg = await t.http.send('GET', new URL(asset.url).pathname);
    expect(pkg.status).toBe(200);
    expect(pkg.headers['content-type']).toBe('application/octet-stream');
    expect(pkg.body.length).toBe(64 * 1024);
    expect(pkg.body.subarray(0, 4).toString('latin1')).toBe('xar!');
    expect(verifyAsset(asset, pkg.body)).toEqual({ ok: true, algorithm: 'sha256' });
    // One flipped byte in the third chunk is caught there.
    const bad = Buffer.from(pkg.body);
    bad[2 * 16 * 1024 + 7]! ^= 0xff;
    expect(verifyAsset(asset, bad)).toMatchObject({ ok: false, chunk: 2 });
    // The same bytes every time (and the same manifest: it is built once).
    expect((await t.http.send('GET', new URL(asset.url).pathname)).body.equals(pkg.body)).toBe(true);
    expect((await t.http.send('GET', AGENT_MANIFEST_PATH)).body.equals(r.body)).toBe(true);
  });

  it('answers HEAD with the headers of a GET and no body', async () => {
    const m = await t.http.send('HEAD', AGENT_MANIFEST_PATH);
    expect(m.status).toBe(200);
    expect(Number(m.headers['content-length'])).toBeGreaterThan(100);
    expect(m.body.length).toBe(0);
    const p = await t.http.send('HEAD', `/agent/packages/${agentPackageName(AGENT_VERSION)}`);
    expect(p.status).toBe(200);
    expect(p.headers['content-length']).toBe(String(64 * 1024));
    expect(p.body.length).toBe(0);
  });

  it('answers 404 problem JSON for another version, 405 for other methods', async () => {
    const r = await t.http.send('GET', '/agent/packages/mdmsim-agent-9.9.9.pkg');
    expect(r.status).toBe(404);
    const body = JSON.parse(r.body.toString());
    expect(body.error).toMatchObject({ code: 'unknown-package', expected: `/agent/packages/${agentPackageName(AGENT_VERSION)}` });
    expect(body.error.message).toContain('mdmsim-agent-9.9.9.pkg');
    const post = await t.http.send('POST', AGENT_MANIFEST_PATH, '{}');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const get = await t.http.send('GET', AGENT_CHECKIN_PATH);
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
  });

  it('honours the package size and chunk size options', async () => {
    const small = await startAgentServer({ agent: { packageBytes: 40_000, chunkBytes: 10_000 } });
    try {
      const [item] = parseManifest(parsePlist((await small.http.send('GET', AGENT_MANIFEST_PATH)).body));
      const pkg = await small.http.send('GET', new URL(item!.assets[0]!.url).pathname);
      expect(pkg.body.length).toBe(40_000);
      expect(item!.assets[0]!.sha256s).toHaveLength(4);
      expect(verifyAsset(item!.assets[0]!, pkg.body).ok).toBe(true);
    } finally {
      await small.stop();
    }
  });
});

describe('POST /agent/v1/checkin', () => {
  it('accepts a check-in signed with the Mac\'s MDM identity and records it', async () => {
    const mac = await enrolledMac(1);
    const before = t.clock.now();
    const r = await agentCheckin(mac, 'install');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    // A signed check-in earns a session token (test/e2e/agent-session.test.ts has the rest).
    expect(JSON.parse(r.body.toString())).toEqual({
      ok: true,
      server_time: new Date(before).toISOString(),
      next_checkin_seconds: 900,
      session_token: expect.any(String),
      session_expires_at: new Date(before + 24 * 3_600_000).toISOString(),
    });
    const e = t.server.store.getEnrollment(mac.udid)!;
    expect(e).toMatchObject({ agentLastCheckinAt: before, agentVersion: AGENT_VERSION, agentLastCheckinKind: 'install' });
    const [event] = await eventsOf(t, 'agent.checkin', mac.udid);
    expect(event).toMatchObject({ summary: `agent ${AGENT_VERSION} install check-in`, data: { kind: 'install', agentVersion: AGENT_VERSION, auth: 'signature' } });

    await t.clock.advance(15 * 60_000);
    expect((await agentCheckin(mac, 'recurring')).status).toBe(200);
    const device = (await api('GET', `/devices/${mac.udid}`)).body;
    expect(device.lastMdmCheckinAt).toBe(new Date(before).toISOString());
    expect(device.agent).toMatchObject({
      installed: true,
      version: AGENT_VERSION,
      lastCheckinAt: new Date(before + 15 * 60_000).toISOString(),
      lastCheckinKind: 'recurring',
      installedAt: expect.any(String),
      reinstall: { attempts: 1, pendingCommandUUID: expect.any(String), lastOutcome: null },
    });
    const listed = (await api('GET', '/devices')).body.find((d: { udid: string }) => d.udid === mac.udid);
    expect(listed.agent.installed).toBe(true);
  });

  it('stores the installed_at the agent sends, and the latest app inventory only', async () => {
    const mac = await enrolledMac(2);
    const installedAt = '2025-12-24T08:00:00.000Z';
    const apps1 = [{ bundle_id: 'com.apple.Safari', name: 'Safari', version: '17.4', path: '/Applications/Safari.app' }];
    const apps2 = [...apps1, { bundle_id: 'io.mdmsim.agent', name: 'mdmsim Agent', version: AGENT_VERSION }];
    expect((await agentCheckin(mac, 'inventory', { installed_at: installedAt, apps: apps1 })).status).toBe(200);
    expect((await agentCheckin(mac, 'inventory', { installed_at: installedAt, apps: apps2 })).status).toBe(200);
    expect(t.server.store.getEnrollment(mac.udid)!.agentInstalledAt).toBe(Date.parse(installedAt));
    const inv = await api('GET', `/devices/${mac.udid}/agent/inventory`);
    expect(inv.status).toBe(200);
    expect(inv.body.apps).toEqual(apps2);
    expect((await api('GET', `/devices/${mac.udid}`)).body.agent.installedAt).toBe(installedAt);
    const events = await eventsOf(t, 'agent.checkin', mac.udid);
    expect(events.map((e) => e.summary)).toEqual([`agent ${AGENT_VERSION} inventory check-in (1 app)`, `agent ${AGENT_VERSION} inventory check-in (2 apps)`]);
    const none = await enrolledMac(3);
    expect((await api('GET', `/devices/${none.udid}/agent/inventory`)).status).toBe(404);
    // Never heard from: installed is null, not false.
    expect((await api('GET', `/devices/${none.udid}`)).body.agent).toMatchObject({ installed: null, version: null, lastCheckinAt: null });
  });

  it('401 without a signature or with one that does not match the body, and no WWW-Authenticate', async () => {
    const mac = await enrolledMac(4);
    const body = Buffer.from(JSON.stringify(checkinBody(mac)));
    const missing = await t.http.send('POST', AGENT_CHECKIN_PATH, body, { 'content-type': 'application/json' });
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBeUndefined();
    const error = JSON.parse(missing.body.toString()).error;
    expect(error).toMatchObject({ code: 'missing-signature', field: 'Mdm-Signature' });
    expect(error.hint).toMatch(/Mdm-Signature header/);
    const signedOther = (await mac.signatureHeaders(Buffer.from('something else')))['mdm-signature']!;
    const mismatch = await t.http.send('POST', AGENT_CHECKIN_PATH, body, { 'content-type': 'application/json', 'mdm-signature': signedOther });
    expect(mismatch.status).toBe(401);
    expect(JSON.parse(mismatch.body.toString()).error.code).toBe('signature-mismatch');
    const garbage = await t.http.send('POST', AGENT_CHECKIN_PATH, body, { 'content-type': 'application/json', 'mdm-signature': 'not base64 at all!' });
    expect(garbage.status).toBe(401);
    // Nothing was recorded, and each refusal is an event naming the device.
    expect(t.server.store.getEnrollment(mac.udid)!.agentLastCheckinAt).toBeUndefined();
    const rejected = await eventsOf(t, 'agent.rejected', mac.udid);
    expect(rejected.map((e) => e.data.status)).toEqual([401, 401, 401]);
  });

  it("403 when signed with another Mac's identity (or one bound to no enrollment)", async () => {
    const mac = await enrolledMac(5);
    const other = await enrolledMac(6);
    const r = await agentCheckin(mac, 'recurring', {}, other);
    expect(r.status).toBe(403);
    const error = JSON.parse(r.body.toString()).error;
    expect(error).toMatchObject({ code: 'certificate-not-bound', field: 'Mdm-Signature' });
    expect(error.message).toContain(`bound to ${other.udid}`);
    const stranger = new TestMac(t.http, macIdentity(7));
    await stranger.installProfile();
    const s = await agentCheckin(mac, 'recurring', {}, stranger);
    expect(s.status).toBe(403);
    expect(JSON.parse(s.body.toString()).error.message).toContain('no enrollment is bound to');
    expect(t.server.store.getEnrollment(mac.udid)!.agentLastCheckinAt).toBeUndefined();
  });

  it('404 for a Mac that never enrolled, naming the udid', async () => {
    const stranger = new TestMac(t.http, macIdentity(8));
    await stranger.installProfile();
    const r = await agentCheckin(stranger);
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body.toString()).error).toMatchObject({ code: 'unknown-enrollment', field: 'udid' });
  });

  it('409 once the Mac checked out (or after Authenticate without TokenUpdate)', async () => {
    const mac = await enrolledMac(9);
    expect((await mac.checkin({ MessageType: 'CheckOut', Topic: mac.topic, UDID: mac.udid })).status).toBe(200);
    const r = await agentCheckin(mac);
    expect(r.status).toBe(409);
    expect(JSON.parse(r.body.toString()).error).toMatchObject({ code: 'enrollment-disabled', field: 'udid' });
    expect(JSON.parse(r.body.toString()).error.hint).toMatch(/checked out/);
    expect((await mac.checkin(mac.authenticateMessage())).status).toBe(200);
    const half = await agentCheckin(mac);
    expect(half.status).toBe(409);
    expect(JSON.parse(half.body.toString()).error.hint).toMatch(/no TokenUpdate/);
  });

  it('400 for a body that is not JSON or has a bad field, naming the field', async () => {
    const mac = await enrolledMac(10);
    const send = async (text: string) => {
      const body = Buffer.from(text);
      const r = await t.http.send('POST', AGENT_CHECKIN_PATH, body, { 'content-type': 'application/json', ...(await mac.signatureHeaders(body)) });
      return { status: r.status, error: JSON.parse(r.body.toString()).error };
    };
    expect(await send('{"udid": ')).toMatchObject({ status: 400, error: { code: 'malformed-json' } });
    expect(await send('[1,2]')).toMatchObject({ status: 400, error: { code: 'not-an-object' } });
    expect(await send(JSON.stringify({ ...checkinBody(mac), kind: 'hourly' }))).toMatchObject({ status: 400, error: { field: 'kind' } });
    expect(await send(JSON.stringify({ ...checkinBody(mac), installed_at: 'yesterday' }))).toMatchObject({ status: 400, error: { field: 'installed_at' } });
    expect(await send(JSON.stringify({ ...checkinBody(mac), apps: [{ bundle_id: 'x', name: 'X' }] }))).toMatchObject({ status: 400, error: { field: 'apps[0].version' } });
    const { udid: _u, ...noUdid } = checkinBody(mac);
    expect(await send(JSON.stringify(noUdid))).toMatchObject({ status: 400, error: { field: 'udid' } });
    const empty = await t.http.send('POST', AGENT_CHECKIN_PATH, Buffer.alloc(0), { 'content-type': 'application/json' });
    expect(empty.status).toBe(400);
    const form = await t.http.send('POST', AGENT_CHECKIN_PATH, 'udid=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(JSON.parse(form.body.toString()).error).toMatchObject({ field: 'Content-Type', expected: 'application/json' });
  });

  it('413 for a body over 1 MiB, and the connection stays usable for the next check-in', async () => {
    const mac = await enrolledMac(11);
    const big = Buffer.from(JSON.stringify({ ...checkinBody(mac), pad: 'x'.repeat(1024 * 1024) }));
    const r = await t.http.send('POST', AGENT_CHECKIN_PATH, big, { 'content-type': 'application/json' });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body.toString()).error.code).toBe('body-too-large');
    expect((await agentCheckin(mac)).status).toBe(200);
  });

  it('accepts anything with auth none (no signature checks, as for MDM)', async () => {
    const open = await startAgentServer({ auth: 'none' });
    try {
      const mac = new TestMac(open.http, macIdentity(12), { sign: false });
      await mac.enroll();
      const body = Buffer.from(JSON.stringify(checkinBody(mac)));
      const r = await open.http.send('POST', AGENT_CHECKIN_PATH, body, { 'content-type': 'application/json' });
      expect(r.status).toBe(200);
      // Nothing was checked, so no session token is issued; a Bearer header is not looked at.
      expect(JSON.parse(r.body.toString())).toEqual({ ok: true, server_time: expect.any(String), next_checkin_seconds: 900 });
      const bearer = await open.http.send('POST', AGENT_CHECKIN_PATH, body, { 'content-type': 'application/json', authorization: 'Bearer nonsense' });
      expect(bearer.status).toBe(200);
      expect((await eventsOf(open, 'agent.checkin', mac.udid)).map((e) => e.data.auth)).toEqual(['none', 'none']);
    } finally {
      await open.stop();
    }
  });
});
