/**
 * fast-check bodies, query strings and path segments at every endpoint family: the MDM
 * endpoints (plists, JSON and bytes, signed as the fuzz Mac so they reach the body checks),
 * GET /mdm/enroll, the agent's check-in, the control API (/sim/v1) and the Kandji API (/api/v1),
 * each with the right token so fuzzing gets past authentication. Every answer is a 2xx or a 4xx
 * with a readable error, never a 5xx or a reported server error; the bystander never changes;
 * the server serves afterwards. (test/e2e/fuzz.test.ts fuzzes MDM message structure in depth.)
 *
 * The routes that move the clock or change the agent policy act on every device by design, so
 * they are fuzzed on a server of their own.
 */
import fc from 'fast-check';
import { CHECKIN_CONTENT_TYPE } from '../../protocol/checkin';
import { COMMAND_CONTENT_TYPE } from '../../protocol/command';
import { AGENT_CHECKIN_PATH } from '../../protocol/agent';
import { buildPlist } from '../../protocol/plist';
import type { PlistValue } from '../../protocol/plist/types';
import { KANDJI_ACTIONS } from '../../protocol/kandji';
import { checkinBody } from '../helpers/agent';
import { macIdentity, TestMac, type HttpResult } from '../helpers/mdm-client';
import { scale, startAbuseServer, type AbuseServer } from './support';

const RUNS = scale(150, 3000);

let t: AbuseServer;
let fuzzMac: TestMac;
let fuzzDeviceId: string;

beforeAll(async () => {
  // No API rate limits: the fuzzer would otherwise mostly meet 429s.
  t = await startAbuseServer({ apiRateLimits: { perSecond: 0, perHour: 0 } });
  // A serial of its own: the Kandji API's device_id is looked up by it below.
  fuzzMac = new TestMac(t.http, macIdentity(1));
  await fuzzMac.enroll();
  const list = await t.http.api('GET', '/api/v1/devices', t.token);
  fuzzDeviceId = list.json.find((d: { serial_number: string }) => d.serial_number === fuzzMac.id.serial).device_id;
});
afterAll(() => t.stop());

// ---- generators ------------------------------------------------------------------------

const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, -1, 1e308, '', '8d', 'P8D', '-5m', 'ProfileList', 'InstallEnterpriseApplication', '*', '__proto__', 'offline', 'BadDeviceToken'),
    fc.string({ maxLength: 30 }),
    fc.double(),
    fc.integer(),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('RequestType', 'Command', 'CommandUUID', 'udids', 'command', 'by', 'name', 'permissions', 'kind', 'reason', 'drop', 'latency', 'reinstall', '$data', '$date', 'udid', 'DeviceName', 'PIN', 'Queries', '__proto__', 'constructor', 'x'), tie('v'), { maxKeys: 6 }),
  ),
})).v;

/** A JSON body as text: mostly valid JSON, sometimes mangled. */
const jsonText = fc.oneof(
  { weight: 4, arbitrary: jsonValue.map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.tuple(jsonValue, fc.nat(), fc.string({ maxLength: 4 })).map(([v, at, s]) => { const j = JSON.stringify(v) ?? ''; const i = at % (j.length + 1); return j.slice(0, i) + s + j.slice(i + 1); }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a).toString('latin1')) },
);

const plistValue: fc.Arbitrary<PlistValue> = fc.letrec<{ v: PlistValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 20 }),
    fc.integer(),
    fc.boolean(),
    fc.constantFrom<PlistValue>('Idle', 'Acknowledged', 'Authenticate', 'TokenUpdate', 'CheckOut', 'ProfileList', 'BYSTANDER-CMD'),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('UDID', 'Status', 'MessageType', 'CommandUUID', 'RequestType', 'Command', 'Topic', 'Token', 'PushMagic', 'x'), tie('v'), { maxKeys: 6 }),
  ),
})).v;

/** Plists that name the fuzz Mac (so its signature is the right one), or anything at all. */
const mdmBody = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(() => ({ Status: 'Idle' }), () => ({ Status: 'NotNow', CommandUUID: 'BYSTANDER-CMD' }), () => ({ MessageType: 'UserAuthenticate' })).map((m) => buildPlist({ ...m(), UDID: fuzzMac.udid })) },
  fc.dictionary(fc.constantFrom('Status', 'MessageType', 'CommandUUID', 'Topic', 'Token', 'PushMagic', 'ErrorChain', 'x'), plistValue, { maxKeys: 5 }).map((d) => buildPlist({ ...d, UDID: fuzzMac.udid })),
  plistValue.map((v) => buildPlist(v)),
  jsonText,
  fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)),
);

/** A path segment: names that exist, names that do not, and bytes that do not percent-decode. */
const segment = fc.oneof(
  fc.constantFrom(() => fuzzMac.udid, () => fuzzDeviceId, () => 'NOT-A-DEVICE', () => '%E0%A4%A', () => '%00', () => '..', () => '%2e%2e%2f', () => 'a'.repeat(2000)),
  fc.string({ maxLength: 40 }).map((s) => () => encodeURIComponent(s)),
);
const query = fc.dictionary(fc.constantFrom('limit', 'offset', 'since', 'type', 'udid', 'push', 'filter', 'sort_by', 'cursor', 'serial_number', 'platform', 'ordering', 'key', 'until', 'by', 'token'), fc.oneof(fc.string({ maxLength: 30 }), jsonText, fc.constantFrom('-1', '0', '1e9', 'true', '%', '[]')), { maxKeys: 4 })
  .map((q) => Object.entries(q).map(([k, v]) => `${k}${Math.random() < 0.1 ? '[]' : ''}=${encodeURIComponent(v)}`).join('&'));

// ---- the property ----------------------------------------------------------------------

interface Target {
  method: string;
  /** The path, given a fuzzed segment and query. */
  path: (segment: string, query: string) => string;
  contentType?: string;
  /** Headers beyond Content-Type (the token, a signature). */
  headers?: (body: Buffer) => Record<string, string>;
}

const bearer = () => ({ authorization: `Bearer ${t.token}` });
const signed = (body: Buffer) => ({ 'mdm-signature': fuzzMac.signer!.sign(body) });

const mdmTargets: Target[] = [
  { method: 'PUT', path: () => '/mdm/checkin', contentType: CHECKIN_CONTENT_TYPE, headers: signed },
  { method: 'PUT', path: () => '/mdm/connect', contentType: COMMAND_CONTENT_TYPE, headers: signed },
  { method: 'POST', path: () => '/mdm', contentType: COMMAND_CONTENT_TYPE, headers: signed },
  { method: 'PUT', path: () => '/mdm/checkin', contentType: 'application/json', headers: signed },
];
const agentTargets: Target[] = [{ method: 'POST', path: () => AGENT_CHECKIN_PATH, contentType: 'application/json', headers: signed }];
const controlTargets: Target[] = [
  { method: 'GET', path: (_s, q) => `/mdm/enroll?${q}` },
  { method: 'PUT', path: (s, q) => `/sim/v1/devices/${s}/commands?${q}`, contentType: 'application/json', headers: bearer },
  { method: 'POST', path: (s, q) => `/sim/v1/devices/${s}/commands?${q}`, contentType: 'application/x-apple-plist', headers: bearer },
  { method: 'POST', path: (_s, q) => `/sim/v1/commands?${q}`, contentType: 'application/json', headers: bearer },
  { method: 'POST', path: (s) => `/sim/v1/devices/${s}/push`, headers: bearer },
  { method: 'POST', path: (s) => `/sim/v1/devices/${s}/faults`, contentType: 'application/json', headers: bearer },
  { method: 'POST', path: (s) => `/sim/v1/devices/${s}/agent/reinstall`, headers: bearer },
  { method: 'GET', path: (s, q) => `/sim/v1/devices/${s}?${q}`, headers: bearer },
  { method: 'GET', path: (s, q) => `/sim/v1/devices/${s}/commands?${q}`, headers: bearer },
  { method: 'GET', path: (s) => `/sim/v1/devices/${s}/agent/inventory`, headers: bearer },
  { method: 'GET', path: (s) => `/sim/v1/commands/${s}`, headers: bearer },
  { method: 'GET', path: (_s, q) => `/sim/v1/events?${q}`, headers: bearer },
  { method: 'GET', path: (_s, q) => `/sim/v1/timeline.mmd?${q}`, headers: bearer },
  { method: 'GET', path: (_s, q) => `/sim/v1/devices?${q}`, headers: bearer },
  { method: 'POST', path: () => '/sim/v1/api-tokens', contentType: 'application/json', headers: bearer },
  { method: 'DELETE', path: (s) => `/sim/v1/api-tokens/${s}`, headers: bearer },
  { method: 'POST', path: () => '/sim/v1/apns/keys', contentType: 'application/json', headers: bearer },
  { method: 'GET', path: (s, q) => `/sim/v1/${s}?${q}`, headers: bearer },
];
const kandjiTargets: Target[] = [
  { method: 'GET', path: (_s, q) => `/api/v1/devices?${q}`, headers: bearer },
  { method: 'GET', path: (_s, q) => `/api/v1/prism/device_information?${q}`, headers: bearer },
  ...['', '/details', '/commands', '/activity', '/apps', '/library-items', '/status', '/parameters'].map((sub): Target => ({ method: 'GET', path: (s, q) => `/api/v1/devices/${s}${sub}?${q}`, headers: bearer })),
  // Actions on the fuzz device or on names that are not devices; never the bystander.
  ...KANDJI_ACTIONS.map((action): Target => ({ method: 'POST', path: (s) => `/api/v1/devices/${s}/action/${action}`, contentType: 'application/json', headers: bearer })),
  { method: 'GET', path: (s, q) => `/api/v1/${s}?${q}`, headers: bearer },
];

async function fuzz(server: AbuseServer, targets: Target[], body: fc.Arbitrary<string | Buffer>, runs: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const before = server.snapshot();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...targets), segment, query, body, async (target, seg, q, payload) => {
      const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
      const withBody = target.method !== 'GET' && target.method !== 'DELETE';
      const r: HttpResult = await server.http.send(target.method, target.path(seg(), q), withBody ? bytes : undefined, {
        ...(withBody && target.contentType ? { 'content-type': target.contentType } : {}),
        ...target.headers?.(bytes),
      });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (process.env.ABUSE_VERBOSE && r.status >= 400) codes.set(r.body.toString().slice(0, 60), (codes.get(r.body.toString().slice(0, 60)) ?? 0) + 1);
      // 501 no-simulator is the documented answer of /faults on a server without simulated Macs.
      if (!(r.status === 501 && r.body.toString().includes('no-simulator'))) expect(r.status).toBeLessThan(500);
      if (r.status >= 400 && r.headers['content-type']?.includes('json')) {
        // mdmsim's {error: {message}}, DRF's {detail} or DRF's field errors ({"DeviceName": ["This field is required."]}).
        const error = JSON.parse(r.body.toString()) as { error?: { message?: unknown }; detail?: unknown } & Record<string, unknown>;
        const reason = error.error?.message ?? error.detail ?? Object.values(error).flat().find((v) => typeof v === 'string');
        expect(reason).toEqual(expect.any(String));
      }
      expect(server.errors).toEqual([]);
    }),
    { numRuns: runs },
  );
  expect(server.snapshot()).toBe(before);
  return statuses;
}

const codes = new Map<string, number>();
afterAll(() => process.env.ABUSE_VERBOSE && console.log([...codes.entries()].sort(([, a], [, b]) => b - a).slice(0, 15)));
const summary = (m: Map<number, number>) => [...m.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ');

it('MDM endpoints: fuzzed plists, JSON and bytes, signed by the fuzz Mac', async () => {
  const statuses = await fuzz(t, mdmTargets, mdmBody, RUNS);
  // Some got through to the protocol, some were refused: the fuzzer reached past the front door.
  expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
  if (process.env.ABUSE_VERBOSE) console.log('mdm', summary(statuses));
}, 120_000);

it("the agent's check-in: fuzzed JSON around a real check-in, signed by the fuzz Mac", async () => {
  const body = fc.oneof(
    fc.dictionary(fc.constantFrom('udid', 'serial_number', 'agent_version', 'kind', 'installed_at', 'sent_at', 'os_version', 'apps', 'x'), jsonValue, { maxKeys: 4 }).map((over) => JSON.stringify({ ...checkinBody(fuzzMac, 'recurring', {}, t.clock.now()), ...over })),
    jsonText,
  );
  const statuses = await fuzz(t, agentTargets, body, RUNS);
  expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
  if (process.env.ABUSE_VERBOSE) console.log('agent', summary(statuses));
}, 120_000);

it('the control API and GET /mdm/enroll: fuzzed JSON, plists, path segments and query strings', async () => {
  const statuses = await fuzz(t, controlTargets, fc.oneof(jsonText, plistValue.map((v) => buildPlist(v))), RUNS);
  expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
  if (process.env.ABUSE_VERBOSE) console.log('control', summary(statuses));
}, 120_000);

it('the Kandji API: fuzzed query strings, filters, cursors, device ids and action bodies', async () => {
  const statuses = await fuzz(t, kandjiTargets, jsonText, RUNS);
  expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
  if (process.env.ABUSE_VERBOSE) console.log('kandji', summary(statuses));
}, 120_000);

it('clock and agent-policy routes, on a server of their own: fuzzed JSON and queries', async () => {
  const own = await startAbuseServer({ apiRateLimits: { perSecond: 0, perHour: 0 } });
  try {
    const targets: Target[] = [
      { method: 'POST', path: (_s, q) => `/sim/v1/clock/advance?${q}`, contentType: 'application/json', headers: () => ({ authorization: `Bearer ${own.token}` }) },
      { method: 'PATCH', path: () => '/sim/v1/agent-policy', contentType: 'application/json', headers: () => ({ authorization: `Bearer ${own.token}` }) },
      { method: 'PATCH', path: () => '/sim/v1/apns/faults', contentType: 'application/json', headers: () => ({ authorization: `Bearer ${own.token}` }) },
      { method: 'PUT', path: () => '/sim/v1/apns/faults', contentType: 'application/json', headers: () => ({ authorization: `Bearer ${own.token}` }) },
    ];
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), query, jsonText, async (target, q, payload) => {
        const r = await own.http.send(target.method, target.path('', q), payload, { 'content-type': target.contentType!, ...target.headers!(Buffer.from(payload)) });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        expect(r.status).toBeLessThan(500);
        expect(own.errors).toEqual([]);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
    expect(await own.http.api('GET', '/sim/v1/clock', own.token).then((r) => r.status)).toBe(200);
    if (process.env.ABUSE_VERBOSE) console.log('clock/policy', summary(statuses));
  } finally {
    await own.stop();
  }
}, 120_000);

it('the server still serves, and the bystander is as it was', async () => {
  await t.expectStillServes();
});
