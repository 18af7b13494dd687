/**
 * Replayed and cross-device Mdm-Signatures: device A's signature with device B's body, B's
 * body signed by A (a check-in, a connect, a TokenUpdate that would steal B's pushes), replays
 * of A's own requests, and the same on the agent's check-in. A forged request is refused with
 * a 400 (401 on the agent's endpoint) and B never changes; a replay of A's own message can only
 * ever touch A, and a replayed result is not stored twice.
 */
import { reports } from '../../protocol/result';
import { CHECKIN_CONTENT_TYPE } from '../../protocol/checkin';
import { COMMAND_CONTENT_TYPE, commands } from '../../protocol/command';
import { AGENT_CHECKIN_CONTENT_TYPE, AGENT_CHECKIN_PATH } from '../../protocol/agent';
import { buildPlistBuffer } from '../../protocol/plist';
import type { PlistDict } from '../../protocol/plist/types';
import { checkinBody, sessionOf } from '../helpers/agent';
import { TestMac, type HttpResult } from '../helpers/mdm-client';
import { errorOf, startAbuseServer, type AbuseServer } from './support';

let t: AbuseServer;
let a: TestMac;
let b: TestMac;

beforeAll(async () => {
  t = await startAbuseServer();
  a = new TestMac(t.http);
  await a.enroll();
  // B is the bystander: every forged request below names it.
  b = t.bystander;
});
afterAll(() => t.stop());

const mdm = (path: string, body: Buffer, signature: string | undefined): Promise<HttpResult> =>
  t.http.send('PUT', path, body, { 'content-type': path === '/mdm/checkin' ? CHECKIN_CONTENT_TYPE : COMMAND_CONTENT_TYPE, ...(signature === undefined ? {} : { 'mdm-signature': signature }) });
const plist = (d: PlistDict) => buildPlistBuffer(d);
const signA = (body: Buffer) => a.signer!.sign(body);

interface Forgery {
  name: string;
  send: () => Promise<HttpResult>;
  code: string;
}
const forgeries: Forgery[] = [
  { name: "A's signature (over A's Idle) sent with B's Idle", send: () => mdm('/mdm/connect', plist(reports.Idle({ UDID: b.udid }) as PlistDict), signA(plist(reports.Idle({ UDID: a.udid }) as PlistDict))), code: 'signature-mismatch' },
  { name: "B's Idle signed by A", send: () => mdm('/mdm/connect', plist(reports.Idle({ UDID: b.udid }) as PlistDict), signA(plist(reports.Idle({ UDID: b.udid }) as PlistDict))), code: 'certificate-not-bound' },
  { name: "B's command acknowledged, signed by A", send: () => { const body = plist(reports.Acknowledged({ UDID: b.udid }, 'BYSTANDER-CMD', { ProfileList: [] }) as PlistDict); return mdm('/mdm/connect', body, signA(body)); }, code: 'certificate-not-bound' },
  { name: "a TokenUpdate for B (A's push token, to steal B's pushes), signed by A", send: () => { const body = plist({ MessageType: 'TokenUpdate', Topic: b.topic, UDID: b.udid, Token: a.token, PushMagic: 'STOLEN' }); return mdm('/mdm/checkin', body, signA(body)); }, code: 'certificate-not-bound' },
  { name: "a CheckOut for B, signed by A", send: () => { const body = plist({ MessageType: 'CheckOut', Topic: b.topic, UDID: b.udid }); return mdm('/mdm/checkin', body, signA(body)); }, code: 'certificate-not-bound' },
  { name: "an Authenticate for B (which would clear B's queue), signed by A", send: () => { const body = plist({ ...b.authenticateMessage() }); return mdm('/mdm/checkin', body, signA(body)); }, code: 'certificate-bound-elsewhere' },
  { name: "B's exact signed Idle with its signature, replayed as A's header on A's body", send: async () => { const body = plist(reports.Idle({ UDID: b.udid }) as PlistDict); const sig = b.signer!.sign(body); return mdm('/mdm/connect', plist(reports.Idle({ UDID: a.udid }) as PlistDict), sig); }, code: 'signature-mismatch' },
  // Node joins repeated headers with ", "; the verifier reads the first signature in that, A's, which is not B's.
  { name: 'two Mdm-Signature headers, A’s first then B’s, on B’s body', send: async () => { const body = plist(reports.Idle({ UDID: b.udid }) as PlistDict); return t.http.send('PUT', '/mdm/connect', body, { 'content-type': COMMAND_CONTENT_TYPE, 'mdm-signature': [signA(body), b.signer!.sign(body)] as unknown as string }); }, code: 'malformed-signature' },
];

describe('cross-device signatures on the MDM endpoints', () => {
  it.each(forgeries)('$name → 400 $code, B unchanged', async ({ send, code }) => {
    const before = t.snapshot();
    const r = await send();
    expect(r.status).toBe(400);
    expect(errorOf(r.body)).toMatchObject({ code, field: 'Mdm-Signature' });
    expect(t.snapshot()).toBe(before);
  });
});

describe('replays', () => {
  // A Mac that lost the answer sends its report again: the server answers it as a repeat, stores nothing twice.
  it("a replayed Acknowledged is answered as a repeat and its result stored once; B is untouched", async () => {
    t.server.service.enqueue([a.udid], commands.ProfileList({}, { CommandUUID: 'A-CMD' }));
    expect((await a.idle())?.CommandUUID).toBe('A-CMD');
    const body = plist(reports.Acknowledged({ UDID: a.udid }, 'A-CMD', { ProfileList: [] }) as PlistDict);
    const signature = signA(body);
    const before = t.snapshot();
    expect((await mdm('/mdm/connect', body, signature)).status).toBe(200);
    const lastEvent = t.server.events.query({}).at(-1)!.id;
    const replay = await mdm('/mdm/connect', body, signature);
    expect(replay.status).toBe(200);
    expect(t.server.events.query({ afterId: lastEvent, types: ['mdm.command.result'] }).map((e) => e.data)).toEqual([expect.objectContaining({ repeat: true })]);
    expect(t.server.store.listResults({ id: a.udid, commandUUID: 'A-CMD' })).toHaveLength(1);
    expect(t.snapshot()).toBe(before);
  });

  it("a replayed old TokenUpdate of A's can only change A (MDM has no nonce; the signer is A's own)", async () => {
    const old = plist(a.tokenUpdateMessage());
    const oldSignature = signA(old);
    a.token = Buffer.alloc(32, 7);
    expect((await a.checkin(a.tokenUpdateMessage())).status).toBe(200);
    const before = t.snapshot();
    const r = await mdm('/mdm/checkin', old, oldSignature);
    expect(r.status).toBe(200);
    expect(t.snapshot()).toBe(before);
  });

  it("A's signed Idle replayed many times at once: each is answered, nothing of B's changes", async () => {
    const body = plist(reports.Idle({ UDID: a.udid }) as PlistDict);
    const signature = signA(body);
    const before = t.snapshot();
    const answers = await Promise.all(Array.from({ length: 50 }, () => mdm('/mdm/connect', body, signature)));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(t.snapshot()).toBe(before);
  });
});

describe("the agent's check-in", () => {
  const agent = (body: Buffer, headers: Record<string, string>) => t.http.send('POST', AGENT_CHECKIN_PATH, body, { 'content-type': AGENT_CHECKIN_CONTENT_TYPE, ...headers });
  const bodyFor = (mac: TestMac) => Buffer.from(JSON.stringify(checkinBody(mac, 'recurring', {}, t.clock.now())));

  it("B's check-in signed by A → 403 (a valid signer, for another Mac), B's agent state unchanged", async () => {
    const before = t.snapshot();
    const body = bodyFor(b);
    const r = await agent(body, { 'mdm-signature': signA(body) });
    expect(r.status).toBe(403);
    expect(t.snapshot()).toBe(before);
  });

  it("A's signature (over A's check-in) sent with B's check-in → 401", async () => {
    const before = t.snapshot();
    const r = await agent(bodyFor(b), { 'mdm-signature': signA(bodyFor(a)) });
    expect(r.status).toBe(401);
    expect(t.snapshot()).toBe(before);
  });

  it("A's session token with B's check-in → 401; the token still works for A", async () => {
    const signed = bodyFor(a);
    const first = await agent(signed, { 'mdm-signature': signA(signed) });
    expect(first.status).toBe(200);
    const token = sessionOf(first)!.token;
    const before = t.snapshot();
    const r = await agent(bodyFor(b), { authorization: `Bearer ${token}` });
    expect(r.status).toBe(401);
    expect(t.snapshot()).toBe(before);
    expect((await agent(bodyFor(a), { authorization: `Bearer ${token}` })).status).toBe(200);
  });
});

it('both devices still work', async () => {
  expect(t.errors).toEqual([]);
  expect(await a.idle()).toBeUndefined();
  await t.expectStillServes();
});
