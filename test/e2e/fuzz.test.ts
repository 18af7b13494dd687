/**
 * Random and mutated plists at both MDM endpoints: the server answers every one (200 or a
 * 4xx, never 401, never a 5xx), stays up, keeps its records consistent, and leaves a
 * bystander device's state alone.
 */
import fc from 'fast-check';
import { CHECKIN_CONTENT_TYPE } from '../../protocol/checkin';
import { COMMAND_CONTENT_TYPE, commands } from '../../protocol/command';
import { buildPlist } from '../../protocol/plist';
import type { PlistValue } from '../../protocol/plist/types';
import { Keyring, TestMac, TOPIC } from '../helpers/mdm-client';
import { startTestServer, type TestServer } from '../helpers/server';
import { POLICIES_OFF } from '../helpers/agent';

let t: TestServer;
let bystander: TestMac;
let keyring: Keyring;
const RUNS = Number(process.env.MDMSIM_FUZZ_RUNS ?? 1000);

beforeAll(async () => {
  t = await startTestServer({ ...POLICIES_OFF, maxBodyBytes: 256 * 1024 });
  bystander = new TestMac(t.http);
  await bystander.enroll();
  t.server.service.enqueue([bystander.udid], commands.ProfileList({}, { CommandUUID: 'BYSTANDER' }));
  // Each fuzzed body is signed as the device it names would sign it, so fuzzing reaches the
  // body checks; the signature checks have their own fuzzing in signature.test.ts.
  keyring = new Keyring(t.http);
});
afterAll(() => t.stop());

const snapshot = () => {
  const s = t.server.store;
  return JSON.stringify({ e: s.getEnrollment(bystander.udid), q: s.listQueue(bystander.udid), r: s.listResults({ id: bystander.udid }).length });
};

// Values drawn from the protocol's own vocabulary, so fuzzed messages get past the first checks.
const fuzzUdids = ['FUZZ-1', 'FUZZ-2', 'FUZZ-3'];
const keys = fc.constantFrom('MessageType', 'UDID', 'Topic', 'Token', 'PushMagic', 'Status', 'CommandUUID', 'ErrorChain', 'DeviceName', 'Model', 'ModelName', 'OSVersion', 'SerialNumber', 'BootstrapToken', 'UserID', 'EnrollmentID', 'QueryResponses', 'x');
const words = fc.constantFrom('Authenticate', 'TokenUpdate', 'CheckOut', 'UserAuthenticate', 'SetBootstrapToken', 'GetBootstrapToken', 'DeclarativeManagement', 'GetToken', 'Idle', 'Acknowledged', 'Error', 'NotNow', 'CommandFormatError', TOPIC, 'BYSTANDER', ...fuzzUdids, '');
const leaf: fc.Arbitrary<PlistValue> = fc.oneof(
  words,
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => new Date(Math.floor(d.getTime() / 1000) * 1000)),
);
const { value: plistValue } = fc.letrec<{ value: PlistValue }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(keys, tie('value'), { maxKeys: 8 })),
}));
const message = fc.record(
  { MessageType: words, UDID: fc.constantFrom(...fuzzUdids), Topic: fc.constant(TOPIC), Status: words, CommandUUID: words, extra: fc.dictionary(keys, plistValue, { maxKeys: 4 }) },
  { requiredKeys: [] },
).map(({ extra, ...m }) => ({ ...extra, ...m }) as PlistValue);

const validTemplates = () => {
  const mac = new TestMac(t.http, { ...new TestMac(t.http).id, udid: 'FUZZ-1' });
  return [
    buildPlist(mac.authenticateMessage()),
    buildPlist(mac.tokenUpdateMessage()),
    buildPlist({ UDID: 'FUZZ-1', Status: 'Idle' }),
    buildPlist({ UDID: 'FUZZ-1', Status: 'Acknowledged', CommandUUID: 'BYSTANDER', ProfileList: [] }),
  ];
};
const mutated = fc
  .tuple(fc.nat(), fc.nat(), fc.nat({ max: 40 }), fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('<', '>', '</dict>', '<dict>', '&', '&amp;', '<!--', ']]>', '<key>', '\u0000', '<!DOCTYPE x [<!ENTITY a "b">]>')))
  .map(([which, at, cut, insert]) => {
    const templates = validTemplates();
    const s = templates[which % templates.length]!;
    const i = at % (s.length + 1);
    return s.slice(0, i) + insert + s.slice(Math.min(s.length, i + cut));
  });

const body = fc.oneof(
  { weight: 3, arbitrary: message.map((m) => buildPlist(m)) },
  { weight: 2, arbitrary: plistValue.map((v) => buildPlist(v)) },
  { weight: 4, arbitrary: mutated },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.concat([Buffer.from('bplist00'), Buffer.from(a)])) },
);
const target = fc.constantFrom(
  { path: '/mdm/checkin', ct: CHECKIN_CONTENT_TYPE },
  { path: '/mdm/connect', ct: COMMAND_CONTENT_TYPE },
  { path: '/mdm', ct: CHECKIN_CONTENT_TYPE },
  { path: '/mdm', ct: COMMAND_CONTENT_TYPE },
  { path: '/mdm/checkin', ct: 'application/xml' },
);

it('answers every random or mutated plist with 200 or a clear 4xx, and stays consistent', async () => {
  const before = snapshot();
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(target, body, async ({ path, ct }, payload) => {
      const r = await t.http.send('PUT', path, payload, { 'content-type': ct, ...(await keyring.headersFor(payload)) });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect([200, 400, 410, 413, 415]).toContain(r.status);
      if (r.status !== 200 && r.status !== 410) {
        const error = JSON.parse(r.body.toString()).error;
        expect(error.code).toEqual(expect.any(String));
        expect(error.message).toEqual(expect.any(String));
      }
    }),
    { numRuns: RUNS },
  );
  if (process.env.MDMSIM_FUZZ_VERBOSE) console.log(Object.fromEntries(statuses));
  expect(t.errors).toEqual([]);
  expect(snapshot()).toBe(before);
  for (const e of t.server.store.listEnrollments()) {
    if (e.enabled) {
      expect(e.tokenUpdateTally).toBeGreaterThanOrEqual(1);
      expect(e.token).toMatch(/^[0-9a-f]*$/);
      expect(typeof e.pushMagic).toBe('string');
    }
  }
  // Some fuzzed messages must get through, or the fuzzer only tested the front door.
  expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
  // And the server still serves real devices.
  expect((await bystander.idle())?.CommandUUID).toBe('BYSTANDER');
  const fresh = new TestMac(t.http);
  await fresh.enroll();
  expect(await fresh.idle()).toBeUndefined();
}, 120_000);
