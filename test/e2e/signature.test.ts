/**
 * Mdm-Signature over real HTTPS: devices enroll with the profile, sign every request, and the
 * server refuses (400, with a reason, never 401) whatever is unsigned, altered, foreign,
 * expired or signed by another device's identity, without changing any state.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { CHECKIN_CONTENT_TYPE } from '../../protocol/checkin';
import { COMMAND_CONTENT_TYPE, commands } from '../../protocol/command';
import { buildPlistBuffer } from '../../protocol/plist';
import type { PlistDict } from '../../protocol/plist/types';
import { reports } from '../../protocol/result';
import { downloadProfile, macIdentity, TestMac, type HttpResult } from '../helpers/mdm-client';
import { openssl, tempDirs } from '../helpers/pki';
import { startTestServer, type TestServer } from '../helpers/server';
import { POLICIES_OFF } from '../helpers/agent';

const tempDir = tempDirs('mdmsim-signature-');
const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/captures/nanomdm/cryptoutil_mdm-signature-vectors.json'), 'utf8'));

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer(POLICIES_OFF);
});
afterAll(() => t.stop());

const send = (p: string, body: Buffer, headers: Record<string, string>) =>
  t.http.send('PUT', p, body, { 'content-type': p === '/mdm/checkin' ? CHECKIN_CONTENT_TYPE : COMMAND_CONTENT_TYPE, ...headers });

const idleBody = (udid: string) => buildPlistBuffer(reports.Idle({ UDID: udid }) as PlistDict);

describe.each(['rsa', 'ec'] as const)('a Mac enrolled with a %s identity', (keyType) => {
  it('enrolls, gets its command and reports, every request signed', async () => {
    const mac = new TestMac(t.http, macIdentity(), { keyType });
    await mac.enroll();
    const e = t.server.store.getEnrollment(mac.udid)!;
    expect(e).toMatchObject({ enabled: true, topic: t.server.pushCert.topic });
    expect(e.identityCertSha256).toBe(crypto.createHash('sha256').update(mac.profile!.identity.certDer).digest('hex'));
    expect((await t.http.api('GET', `/sim/v1/devices/${mac.udid}`, t.token)).json).toMatchObject({ identityCertSha256: e.identityCertSha256 });
    t.server.service.enqueue([mac.udid], commands.SecurityInfo({}, { CommandUUID: `SEC-${keyType}` }));
    const command = await mac.idle();
    expect(command?.CommandUUID).toBe(`SEC-${keyType}`);
    expect(await mac.ack(`SEC-${keyType}`, { SecurityInfo: {} }, 'SecurityInfo')).toBeUndefined();
    expect(t.server.store.listResults({ id: mac.udid })).toHaveLength(1);
  });
});

describe('a signer mdmsim did not write: the openssl binary', () => {
  it.each([
    ['SHA-256, no signed attributes (as a Mac signs)', ['-md', 'sha256', '-noattr']],
    ['SHA-1, no signed attributes', ['-md', 'sha1', '-noattr']],
    ['SHA-256 with signed attributes', ['-md', 'sha256']],
  ])('%s: Authenticate and TokenUpdate signed by `openssl cms -sign` are accepted', async (_name, flags) => {
    const { profile } = await downloadProfile(t.http, 'rsa');
    // The identity as a user's tooling would take it: out of the PKCS#12, by openssl.
    const dir = tempDir();
    const f = (name: string) => path.join(dir, name);
    const p12 = (profile.profile.PayloadContent as PlistDict[]).find((p) => p.PayloadType === 'com.apple.security.pkcs12')!;
    fs.writeFileSync(f('id.p12'), p12.PayloadContent as Buffer);
    openssl('pkcs12', '-in', f('id.p12'), '-passin', `pass:${p12.Password as string}`, '-nodes', '-out', f('id.pem'));
    const sign = (body: Buffer): string => {
      fs.writeFileSync(f('body'), body);
      openssl('cms', '-sign', '-binary', '-in', f('body'), '-signer', f('id.pem'), '-outform', 'DER', '-out', f('sig.der'), ...flags);
      return fs.readFileSync(f('sig.der')).toString('base64');
    };
    const mac = new TestMac(t.http, macIdentity(), { sign: false });
    mac.profile = profile;
    for (const message of [mac.authenticateMessage(), mac.tokenUpdateMessage()]) {
      const body = buildPlistBuffer(message);
      const r = await send('/mdm/checkin', body, { 'mdm-signature': sign(body) });
      expect({ status: r.status, body: r.body.toString() }).toEqual({ status: 200, body: '' });
    }
    expect(t.server.store.getEnrollment(mac.udid)).toMatchObject({ enabled: true, tokenUpdateTally: 1 });
    const idle = idleBody(mac.udid);
    expect((await send('/mdm/connect', idle, { 'mdm-signature': sign(idle) })).status).toBe(200);
  });
});

describe('refusals', () => {
  let mac: TestMac;
  let neighbour: TestMac;
  let foreignSign: (body: Buffer) => string;
  let other: TestServer;
  beforeAll(async () => {
    mac = new TestMac(t.http);
    await mac.enroll();
    neighbour = new TestMac(t.http);
    await neighbour.enroll();
    t.server.service.enqueue([mac.udid], commands.ProfileList({}, { CommandUUID: 'MAC-CMD' }));
    // A perfectly good identity, from another mdmsim (another CA).
    other = await startTestServer(POLICIES_OFF);
    const foreign = await downloadProfile(other.http, 'ec');
    foreignSign = (body) => foreign.signer.sign(body);
    // A successful Idle now would move lastSeenAt: a refusal must not.
    await t.clock.advance(60_000);
  });
  afterAll(() => other.stop());

  function state() {
    const s = t.server.store;
    return JSON.stringify({
      count: s.countEnrollments(),
      devices: [mac.udid, neighbour.udid].map((id) => ({ e: s.getEnrollment(id), q: s.listQueue(id), r: s.listResults({ id }).length })),
    });
  }

  interface Case {
    name: string;
    send: () => Promise<HttpResult>;
    code: string;
    udid?: () => string;
  }
  const idle = () => idleBody(mac.udid);
  const cases: Case[] = [
    { name: 'no Mdm-Signature header', send: () => send('/mdm/connect', idle(), {}), code: 'missing-signature', udid: () => mac.udid },
    { name: 'a header that is not base64', send: () => send('/mdm/connect', idle(), { 'mdm-signature': 'this is not base64!' }), code: 'malformed-signature' },
    { name: 'base64 that is not CMS', send: () => send('/mdm/connect', idle(), { 'mdm-signature': crypto.randomBytes(300).toString('base64') }), code: 'malformed-signature' },
    {
      name: 'a body altered after signing (Idle signed, Acknowledged sent)',
      send: async () => {
        const signature = mac.signer!.sign(idle());
        const ack = buildPlistBuffer(reports.Acknowledged({ UDID: mac.udid }, 'MAC-CMD', { ProfileList: [] }) as PlistDict);
        return send('/mdm/connect', ack, { 'mdm-signature': signature });
      },
      code: 'signature-mismatch',
      udid: () => mac.udid,
    },
    { name: 'an identity from another CA', send: () => send('/mdm/connect', idle(), { 'mdm-signature': foreignSign(idle()) }), code: 'unknown-ca' },
    { name: "another enrolled device's identity", send: () => send('/mdm/connect', idle(), { 'mdm-signature': neighbour.signer!.sign(idle()) }), code: 'certificate-not-bound' },
    {
      name: "a CheckOut signed by another device's identity",
      send: async () => {
        const body = buildPlistBuffer({ MessageType: 'CheckOut', Topic: mac.topic, UDID: mac.udid });
        return send('/mdm/checkin', body, { 'mdm-signature': neighbour.signer!.sign(body) });
      },
      code: 'certificate-not-bound',
    },
    {
      name: "an Authenticate for a new device signed with an enrolled device's identity",
      send: async () => {
        const body = buildPlistBuffer(new TestMac(t.http, macIdentity(), { sign: false }).authenticateMessage());
        return send('/mdm/checkin', body, { 'mdm-signature': mac.signer!.sign(body) });
      },
      code: 'certificate-bound-elsewhere',
    },
    { name: 'the real NanoMDM device vector (signature good, CA foreign)', send: () => send('/mdm/connect', Buffer.from(vectors.mdmSignatureBody2_base64, 'base64'), { 'mdm-signature': vectors.mdmSignatureHeader2 }), code: 'unknown-ca', udid: () => 'D4D56083-BFB0-5047-8BDF-2727BACDC59B' },
  ];

  it.each(cases)('$name → 400 $code, an event, and no state change', async ({ send: go, code, udid }) => {
    const before = state();
    const lastEvent = t.server.events.query({}).at(-1)?.id ?? 0;
    const r = await go();
    expect(r.status).toBe(400);
    const error = JSON.parse(r.body.toString()).error;
    expect(error).toMatchObject({ code, field: 'Mdm-Signature', message: expect.any(String) });
    const events = t.server.events.query({ afterId: lastEvent });
    expect(events.map((e) => e.type)).toEqual(['mdm.rejected']);
    expect(events[0]!.data).toMatchObject({ status: 400, code });
    if (udid) expect(events[0]!.udid).toBe(udid());
    expect(state()).toBe(before);
  });

  it('leaves both devices working', async () => {
    expect((await mac.idle())?.CommandUUID).toBe('MAC-CMD');
    expect(await neighbour.idle()).toBeUndefined();
  });

  it('answers any mangled signature with a 400 and changes nothing', async () => {
    const body = idle();
    const good = Buffer.from(mac.signer!.sign(body), 'base64');
    const before = state();
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          // One to four bytes of the DER changed.
          fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }).map((edits) => {
            const copy = Buffer.from(good);
            for (const [at, xor] of edits) copy[at] ^= xor;
            return copy.toString('base64');
          }),
          fc.nat(good.length - 1).map((n) => good.subarray(0, n).toString('base64')),
          fc.string({ maxLength: 80 }).filter((s) => /^[\x21-\x7e]*$/.test(s)),
        ),
        async (header) => {
          const r = await send('/mdm/connect', body, header === '' ? {} : { 'mdm-signature': header });
          // A change in, say, an unused certificate field may still verify: then it is accepted.
          if (r.status === 200) return;
          refused++;
          expect(r.status).toBe(400);
          expect(JSON.parse(r.body.toString()).error.field).toBe('Mdm-Signature');
        },
      ),
      { numRuns: Number(process.env.MDMSIM_FUZZ_RUNS ?? 300) },
    );
    expect(t.errors).toEqual([]);
    // Verification must be what answered: nearly every mangled header is refused.
    expect(refused).toBeGreaterThan(Number(process.env.MDMSIM_FUZZ_RUNS ?? 300) / 2);
    // Only a verified Idle may have moved lastSeenAt; the queue and results are untouched.
    const after = JSON.parse(state());
    const was = JSON.parse(before);
    expect(after.count).toBe(was.count);
    expect(after.devices.map((d: { q: unknown }) => d.q)).toEqual(was.devices.map((d: { q: unknown }) => d.q));
  });
});

describe('re-enrollment', () => {
  it('a new profile and a new Authenticate re-bind the device; the old identity is then refused', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    const oldSigner = mac.signer!;
    const oldSha = t.server.store.getEnrollment(mac.udid)!.identityCertSha256;
    await mac.installProfile('rsa');
    await mac.enroll();
    const e = t.server.store.getEnrollment(mac.udid)!;
    expect(e.identityCertSha256).not.toBe(oldSha);
    expect(e).toMatchObject({ enabled: true, tokenUpdateTally: 1 });
    const body = idleBody(mac.udid);
    const r = await send('/mdm/connect', body, { 'mdm-signature': oldSigner.sign(body) });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString()).error.code).toBe('certificate-not-bound');
    expect(await mac.idle()).toBeUndefined();
    expect(t.server.store.enrollmentIdForCertificate(oldSha!)).toBeUndefined();
  });

  it('a device whose enrollment was made without signatures must re-authenticate once signatures are on', async () => {
    const store = t.server.store;
    const mac = new TestMac(t.http);
    await mac.installProfile();
    // As if written by a server that ran with --auth none on the same store.
    store.storeAuthenticate({ id: mac.udid, udid: mac.udid, topic: mac.topic, platform: 'macOS', osVersion: '14.4.1' }, t.clock.now());
    store.storeTokenUpdate(mac.udid, { topic: mac.topic, token: 'ab'.repeat(32), pushMagic: 'M' }, t.clock.now());
    const r = await mac.sendReport(reports.Idle({ UDID: mac.udid }));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString()).error).toMatchObject({ code: 'certificate-not-bound', message: expect.stringContaining('without a signature') });
  });
});

describe('expiry by the lab clock', () => {
  it('a year and a day later the identity is refused as expired; a new profile works again', async () => {
    const s = await startTestServer(POLICIES_OFF);
    try {
      const mac = new TestMac(s.http);
      await mac.enroll();
      await s.clock.advance(366 * 24 * 3600_000);
      const before = JSON.stringify(s.server.store.getEnrollment(mac.udid));
      const r = await mac.sendReport(reports.Idle({ UDID: mac.udid }));
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body.toString()).error).toMatchObject({ code: 'certificate-expired', hint: expect.stringContaining('/mdm/enroll') });
      expect(JSON.stringify(s.server.store.getEnrollment(mac.udid))).toBe(before);
      await mac.installProfile();
      await mac.enroll();
      expect(await mac.idle()).toBeUndefined();
    } finally {
      await s.stop();
    }
  });
});

describe('--auth none', () => {
  it('accepts unsigned requests, and ignores a signature if one is sent', async () => {
    const s = await startTestServer({ ...POLICIES_OFF, auth: 'none' });
    try {
      const mac = new TestMac(s.http, macIdentity(), { sign: false });
      await mac.enroll();
      expect(s.server.store.getEnrollment(mac.udid)).toMatchObject({ enabled: true, identityCertSha256: undefined });
      const body = idleBody(mac.udid);
      expect((await s.http.send('PUT', '/mdm/connect', body, { 'content-type': COMMAND_CONTENT_TYPE, 'mdm-signature': 'garbage' })).status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});

describe('the opt-in identity key pool', () => {
  it('gives every Mac its own certificate, so each is bound and answered as itself', async () => {
    const s = await startTestServer({ ...POLICIES_OFF, identityKeyPool: 1 });
    try {
      const [a, b] = [new TestMac(s.http, macIdentity(), { keyType: 'rsa' }), new TestMac(s.http, macIdentity(), { keyType: 'rsa' })];
      await a.enroll();
      await b.enroll();
      const key = (m: TestMac) => new crypto.X509Certificate(m.profile!.identity.certDer).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
      expect(key(a)).toBe(key(b));
      expect(s.server.store.getEnrollment(a.udid)!.identityCertSha256).not.toBe(s.server.store.getEnrollment(b.udid)!.identityCertSha256);
      s.server.service.enqueue([b.udid], commands.ProfileList({}, { CommandUUID: 'B-ONLY' }));
      expect(await a.idle()).toBeUndefined();
      expect((await b.idle())?.CommandUUID).toBe('B-ONLY');
    } finally {
      await s.stop();
    }
  });
});
