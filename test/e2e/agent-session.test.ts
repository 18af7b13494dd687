/**
 * Agent session tokens over real sockets (protocol/agent.ts has the flow): a signed check-in
 * earns one, later check-ins send it as `Authorization: Bearer`, and every way it stops being
 * good answers 401 saying to sign. Then the simulated agent doing exactly that.
 */
import { readFileSync } from 'node:fs';
import { AGENT_CHECKIN_PATH } from '../../protocol/agent';
import { Fleet, type MacEvent, type SimulatedMac } from '../../agent-sim';
import { agentCheckin, agentCheckinWithSession, checkinBody, eventsOf, HOUR, sessionOf, startAgentServer } from '../helpers/agent';
import { TestMac, macIdentity } from '../helpers/mdm-client';
import type { HttpResult } from '../helpers/mdm-client';
import { startTestServer, type TestServer } from '../helpers/server';

const MINUTE = 60_000;

function errorOf(r: HttpResult): { code: string; field?: string; message: string; hint?: string } {
  return JSON.parse(r.body.toString()).error;
}

/** Expects a 401 refusal of a session token that says to sign instead. */
function expectRefused(r: HttpResult, code: string): void {
  expect(r.status).toBe(401);
  expect(r.headers['www-authenticate']).toBeUndefined();
  const error = errorOf(r);
  expect(error).toMatchObject({ code, field: 'Authorization' });
  expect(error.hint).toMatch(/Mdm-Signature/);
}

describe('session tokens on POST /agent/v1/checkin', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startAgentServer();
  });
  afterAll(() => t?.stop());

  let n = 100;
  async function enrolledMac(): Promise<TestMac> {
    const mac = new TestMac(t.http, macIdentity(n++));
    await mac.enroll();
    return mac;
  }

  /** A Mac and the token its signed install check-in earned. */
  async function withToken(): Promise<{ mac: TestMac; token: string }> {
    const mac = await enrolledMac();
    const r = await agentCheckin(mac, 'install');
    expect(r.status).toBe(200);
    return { mac, token: sessionOf(r)!.token };
  }

  const auths = async (udid: string) => (await eventsOf(t, 'agent.checkin', udid)).map((e) => e.data.auth);

  it('a signed check-in answers a token valid for 24 h; the token alone then authenticates check-ins', async () => {
    const mac = await enrolledMac();
    const at = t.clock.now();
    const r = await agentCheckin(mac, 'install');
    expect(r.status).toBe(200);
    const session = sessionOf(r)!;
    expect(session.token).toMatch(/^[A-Za-z0-9\-._~+/]+$/); // token68: a Bearer credential as it stands
    expect(session.expiresAt).toBe(new Date(at + 24 * HOUR).toISOString());

    await t.clock.advance(15 * MINUTE);
    const bearer = await agentCheckinWithSession(mac, session.token);
    expect(bearer.status).toBe(200);
    // Recorded as any check-in; a token earns no new token (the agent signs to refresh).
    expect(JSON.parse(bearer.body.toString())).toEqual({ ok: true, server_time: new Date(at + 15 * MINUTE).toISOString(), next_checkin_seconds: 900 });
    expect(t.server.store.getEnrollment(mac.udid)).toMatchObject({ agentLastCheckinAt: at + 15 * MINUTE, agentLastCheckinKind: 'recurring' });
    const inventory = await agentCheckinWithSession(mac, session.token, 'inventory', { apps: [{ bundle_id: 'com.apple.Safari', name: 'Safari', version: '17.4' }] });
    expect(inventory.status).toBe(200);
    expect(await auths(mac.udid)).toEqual(['signature', 'session', 'session']);
    // Each signed check-in earns a fresh one; the old one stays good until it expires.
    await t.clock.advance(MINUTE);
    const again = sessionOf(await agentCheckin(mac))!;
    expect(again.token).not.toBe(session.token);
    expect(again.expiresAt).toBe(new Date(at + 16 * MINUTE + 24 * HOUR).toISOString());
    expect((await agentCheckinWithSession(mac, session.token)).status).toBe(200);
    expect((await agentCheckinWithSession(mac, again.token)).status).toBe(200);
  });

  it('expires on the server clock: good a minute before, 401 session-expired at the time', async () => {
    const { mac, token } = await withToken();
    await t.clock.advance(24 * HOUR - MINUTE);
    expect((await agentCheckinWithSession(mac, token)).status).toBe(200);
    await t.clock.advance(MINUTE);
    const r = await agentCheckinWithSession(mac, token);
    expectRefused(r, 'session-expired');
    expect(errorOf(r).message).toContain('expired at');
    // Nothing recorded for the refusal; the event names the Mac.
    expect(t.server.store.getEnrollment(mac.udid)!.agentLastCheckinAt).toBe(t.clock.now() - MINUTE);
    const [rejected] = await eventsOf(t, 'agent.rejected', mac.udid);
    expect(rejected!.data).toMatchObject({ status: 401, code: 'session-expired' });
    // Signing works, and earns a new one.
    const signed = await agentCheckin(mac);
    expect(signed.status).toBe(200);
    expect((await agentCheckinWithSession(mac, sessionOf(signed)!.token)).status).toBe(200);
  });

  it('401 bad-session-token for a tampered, foreign or malformed token', async () => {
    const { mac, token } = await withToken();
    const parts = token.split('.');
    const mac64 = parts[parts.length - 1]!;
    const flip = (c: string) => (c === 'A' ? 'Q' : 'A');
    const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = mac64[42]!;
    const withMac = (m: string) => [...parts.slice(0, -1), m].join('.');
    const tampered = [
      // Another MAC: its first character, its last (which carries 4 bits)...
      withMac(flip(mac64[0]!) + mac64.slice(1)),
      withMac(mac64.slice(0, 42) + (last === 'E' ? 'A' : 'E')),
      // ...or the same bits spelled another way (the last character's 2 ignored bits set).
      withMac(mac64.slice(0, 42) + B64URL[B64URL.indexOf(last) + 1]),
      // A later expiry, another identity prefix, another udid, under the same MAC.
      [parts[0], (Date.now() * 2).toString(36), ...parts.slice(2)].join('.'),
      [parts[0], parts[1], 'f'.repeat(16), ...parts.slice(3)].join('.'),
      token.replace(mac.udid, mac.udid.toLowerCase()),
      // Shortened, lengthened, a character outside base64url, garbage.
      token.slice(0, -1),
      `${token}A`,
      withMac(`+${mac64.slice(1)}`),
      'not-a-token',
      `v1..${'a'.repeat(16)}.${mac.udid}.${'A'.repeat(43)}`,
    ];
    for (const bad of tampered) expectRefused(await agentCheckinWithSession(mac, bad), 'bad-session-token');
    // The same token from a server with another secret (another run).
    const other = await startAgentServer();
    try {
      const there = new TestMac(other.http, macIdentity(n - 1, { udid: mac.udid }));
      await there.enroll();
      const foreign = sessionOf(await agentCheckin(there))!.token;
      expectRefused(await agentCheckinWithSession(mac, foreign), 'bad-session-token');
    } finally {
      await other.stop();
    }
    // "Bearer" is case-insensitive; other schemes are not a session token (so: sign).
    expect((await agentCheckinWithSession(mac, token, 'recurring', {}, { authorization: `bearer ${token}` })).status).toBe(200);
    const basic = await agentCheckinWithSession(mac, token, 'recurring', {}, { authorization: 'Basic dXNlcjpwYXNz' });
    expect(basic.status).toBe(401);
    expect(errorOf(basic).code).toBe('missing-signature');
    expect(t.server.store.getEnrollment(mac.udid)!.agentLastCheckinKind).toBe('recurring');
    expect((await eventsOf(t, 'agent.rejected', mac.udid)).map((e) => e.data.status)).toEqual(Array(tampered.length + 2).fill(401));
  });

  it("401 for another Mac's body: a token names its udid", async () => {
    const a = await withToken();
    const b = await enrolledMac();
    const r = await agentCheckinWithSession(b, a.token);
    expectRefused(r, 'bad-session-token');
    expect(errorOf(r).message).toContain(`issued to ${a.mac.udid}, not to ${b.udid}`);
    // Nor can the body say the other udid with the other Mac's serial.
    expectRefused(await agentCheckinWithSession(a.mac, a.token, 'recurring', { udid: b.udid }), 'bad-session-token');
    expect(t.server.store.getEnrollment(b.udid)!.agentLastCheckinAt).toBeUndefined();
    expect((await agentCheckinWithSession(a.mac, a.token)).status).toBe(200);
  });

  it('401 session-revoked after a re-enrollment binds a new identity', async () => {
    const { mac, token } = await withToken();
    await mac.installProfile();
    await mac.enroll();
    expectRefused(await agentCheckinWithSession(mac, token), 'session-revoked');
    // The new identity signs, and its token works.
    const signed = await agentCheckin(mac);
    expect(signed.status).toBe(200);
    expect((await agentCheckinWithSession(mac, sessionOf(signed)!.token)).status).toBe(200);
    expectRefused(await agentCheckinWithSession(mac, token), 'session-revoked');
  });

  it('401 session-revoked while the enrollment is disabled (CheckOut, Authenticate without TokenUpdate)', async () => {
    const { mac, token } = await withToken();
    expect((await mac.checkin({ MessageType: 'CheckOut', Topic: mac.topic, UDID: mac.udid })).status).toBe(200);
    expectRefused(await agentCheckinWithSession(mac, token), 'session-revoked');
    // Signed, the precise answer.
    expect((await agentCheckin(mac)).status).toBe(409);
  });

  it('with both headers the signature wins', async () => {
    const { mac, token } = await withToken();
    // A good signature beside a bad token: accepted, and a new token.
    const body = Buffer.from(JSON.stringify(checkinBody(mac)));
    const both = await t.http.send('POST', AGENT_CHECKIN_PATH, body, { 'content-type': 'application/json', authorization: 'Bearer garbage', ...(await mac.signatureHeaders(body)) });
    expect(both.status).toBe(200);
    expect(sessionOf(both)).toBeDefined();
    // A bad signature beside a good token: refused, for the signature.
    const other = Buffer.from(JSON.stringify(checkinBody(mac, 'recurring', { os_version: '99.0' })));
    const bad = await t.http.send('POST', AGENT_CHECKIN_PATH, body, { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(await mac.signatureHeaders(other)) });
    expect(bad.status).toBe(401);
    expect(errorOf(bad)).toMatchObject({ code: 'signature-mismatch', field: 'Mdm-Signature' });
  });

  it('--auth none issues no tokens', async () => {
    const open = await startAgentServer({ auth: 'none' });
    try {
      const mac = new TestMac(open.http, macIdentity(n++), { sign: false });
      await mac.enroll();
      const r = await agentCheckin(mac, 'install');
      expect(r.status).toBe(200);
      expect(sessionOf(r)).toBeUndefined();
      expect((await eventsOf(open, 'agent.checkin', mac.udid)).map((e) => e.data.auth)).toEqual(['none']);
    } finally {
      await open.stop();
    }
  });
});

describe('the simulated agent uses its session token', () => {
  let t: TestServer;
  let fleet: Fleet;
  let mac: SimulatedMac;
  const events: MacEvent[] = [];
  const errors: unknown[] = [];

  async function settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await fleet.settled();
      await t.server.settled();
      await new Promise((r) => setTimeout(r, 2));
    }
    await fleet.settled();
  }
  async function advance(ms: number): Promise<void> {
    await t.clock.advance(ms);
    await settle();
  }
  const serverAuths = async () => (await eventsOf(t, 'agent.checkin', mac.udid)).map((e) => e.data.auth as string);
  const of = (type: string) => events.filter((e) => e.udid === mac.udid && e.type === type);

  beforeAll(async () => {
    t = await startTestServer({ agentPolicy: { installOnEnrollment: true, reinstall: false, inventoryInterval: false } });
    fleet = await Fleet.start({
      server: t.server.url,
      ca: readFileSync(t.server.info.caCert),
      courier: t.server.info.courier!,
      clock: t.clock,
      seed: 'e2e-agent-session',
      keyType: 'ec',
      onEvent: (e) => events.push(e),
      onError: (e) => errors.push(e),
    });
    t.server.setDeviceFaultHandler(fleet.faults);
    [mac] = fleet.addMacs(1) as [SimulatedMac];
    expect(await fleet.enrollAll()).toEqual({ enrolled: 1, failed: [] });
    await settle();
  });

  afterAll(async () => {
    await fleet?.stop();
    await t?.stop();
    expect(errors).toEqual([]);
  });

  test('signs its install check-in, then sends the token; signs again an hour before it expires', async () => {
    expect(await serverAuths()).toEqual(['signature']);
    await advance(2 * HOUR);
    const first = await serverAuths();
    expect(first.length).toBeGreaterThanOrEqual(1 + 7);
    expect(first).toEqual(['signature', ...Array(first.length - 1).fill('session')]);
    // 24 h after the install: one signed refresh, about 23 h in; no refusals on the way.
    await advance(22 * HOUR);
    const auths = await serverAuths();
    expect(auths.length).toBeGreaterThanOrEqual(1 + 24 * 4 - 1);
    expect(auths.filter((a) => a === 'signature')).toHaveLength(2);
    const signedAt = (await eventsOf(t, 'agent.checkin', mac.udid)).filter((e) => e.data.auth === 'signature').map((e) => Date.parse(e.time));
    expect(signedAt[1]! - signedAt[0]!).toBeGreaterThanOrEqual(23 * HOUR);
    expect(signedAt[1]! - signedAt[0]!).toBeLessThan(23 * HOUR + 15 * MINUTE);
    expect(await eventsOf(t, 'agent.rejected', mac.udid)).toEqual([]);
    expect(of('mac.agent.checkin.failed')).toEqual([]);
    expect(mac.agentRuntime!.session).toEqual(expect.any(String));
  });

  test('after its token expired (network blocked for a day) it signs, with no refusal first', async () => {
    await fleet.faults.apply(mac.udid, [{ kind: 'agent-network-blocked' }]);
    await advance(25 * HOUR);
    await fleet.faults.clear(mac.udid, 'agent-network-blocked');
    const before = (await serverAuths()).length;
    await advance(15 * MINUTE);
    expect((await serverAuths()).slice(before)).toEqual(['signature']);
    await advance(15 * MINUTE);
    expect((await serverAuths()).slice(before)).toEqual(['signature', 'session']);
    expect(await eventsOf(t, 'agent.rejected', mac.udid)).toEqual([]);
  });

  test('a refused token (a server restart, a clock that disagrees) is dropped and the check-in sent again, signed', async () => {
    const rt = mac.agentRuntime!;
    const good = rt.session!;
    rt.session = `${good.slice(0, -43)}${'A'.repeat(43)}`; // what another server's key would make of it
    const before = (await serverAuths()).length;
    const failed = of('mac.agent.checkin.failed').length;
    await advance(15 * MINUTE);
    expect((await serverAuths()).slice(before)).toEqual(['signature']);
    expect((await eventsOf(t, 'agent.rejected', mac.udid)).map((e) => e.data.code)).toEqual(['bad-session-token']);
    expect(of('mac.agent.session.refused')).toHaveLength(1);
    expect(of('mac.agent.checkin.failed')).toHaveLength(failed);
    expect(rt.session).not.toBe(good);
    await advance(15 * MINUTE);
    expect((await serverAuths()).slice(before)).toEqual(['signature', 'session']);
  });

  test('a reinstall starts without a token: its install check-in signs', async () => {
    await fleet.faults.apply(mac.udid, [{ kind: 'agent-crashed' }]);
    await fleet.faults.clear(mac.udid, 'agent-crashed');
    await settle();
    expect(mac.agentRuntime).toBeDefined();
    const installs = (await eventsOf(t, 'agent.checkin', mac.udid)).filter((e) => e.data.kind === 'install');
    expect(installs.at(-1)!.data.auth).toBe('signature');
    expect(installs.length).toBeGreaterThanOrEqual(2);
  });
});
