/**
 * The posture-sync simulator against the real server over HTTPS: Prism read with the real
 * cursor to the end, serials matched whatever their case and spacing, agent_installed true for
 * a Mac whose agent checked in and false for one that never had it; a token without the Prism
 * permission (403) and a revoked token (401) pause the integration, a new token resumes it.
 */
import { startPostureSync, type PostureEvent, type PostureSync } from '../../posture-sim';
import { readFileSync } from 'node:fs';
import { agentCheckin, freshId, POLICIES_OFF } from '../helpers/agent';
import { TestMac } from '../helpers/mdm-client';
import { startTestServer, T0, type TestServer } from '../helpers/server';

const MIN = 60_000;
const HOUR = 60 * MIN;

let t: TestServer;
let macs: TestMac[];
let sync: PostureSync | undefined;
let events: PostureEvent[];

beforeAll(async () => {
  t = await startTestServer(POLICIES_OFF);
  macs = [];
  for (let n = 1; n <= 5; n++) {
    const mac = new TestMac(t.http, freshId(n, { serial: `C02PSTR0000${n}` }));
    await mac.enroll();
    macs.push(mac);
  }
  // Macs 1–3 have the agent (it checked in); Macs 4 and 5 never had it.
  for (const mac of macs.slice(0, 3)) expect((await agentCheckin(mac, 'install')).status).toBe(200);
});

afterAll(async () => {
  await t.stop();
});

beforeEach(() => {
  events = [];
});

afterEach(async () => {
  await sync?.stop();
  sync = undefined;
});

const nodes = () => [
  ...macs.map((m, i) => ({ id: `node-${i + 1}`, name: `mac-${i + 1}`, serialNumbers: [i % 2 === 0 ? m.id.serial.toLowerCase() : ` ${m.id.serial} `] })),
  { id: 'node-unknown', name: 'personal-mbp', serialNumbers: ['C02DT4XQMD6R'] },
  { id: 'node-linux', name: 'build-linux', serialNumbers: [] },
];

function start(token: string, over: { pageSize?: number } = {}) {
  return startPostureSync({
    apiUrl: t.server.url,
    token,
    ca: readFileSync(t.server.info.caCert),
    clock: t.clock,
    nodes: nodes(),
    rules: ['kandji:agentInstalled == true'],
    onEvent: (e) => events.push(e),
    ...over,
  }).then((s) => (sync = s));
}

it('reads Prism to the end by cursor and writes both attributes on matched nodes', async () => {
  const token = t.server.apiTokens.create({ name: 'tailscale', permissions: ['prism:device_information'] }).token;
  const s = await start(token, { pageSize: 2 });
  expect(s.status()).toMatchObject({ state: 'active', error: null, devices: 5, matched: 5, unmatched: 2, lastSuccessAt: T0 });
  const syncEvent = events.find((e) => e.type === 'sync');
  expect(syncEvent).toMatchObject({ report: { ok: true, pages: 3, devices: 5 } });
  const byId = Object.fromEntries(s.nodes().map((n) => [n.id, n]));
  for (const n of [1, 2, 3]) expect(byId[`node-${n}`]).toMatchObject({ attributes: { 'kandji:mdmEnabled': true, 'kandji:agentInstalled': true }, allowed: true });
  for (const n of [4, 5]) expect(byId[`node-${n}`]).toMatchObject({ attributes: { 'kandji:mdmEnabled': true, 'kandji:agentInstalled': false }, allowed: false, failing: ['kandji:agentInstalled == true'] });
  expect(byId['node-unknown']).toMatchObject({ deviceId: null, attributes: {}, allowed: false });
  expect(byId['node-linux']).toMatchObject({ deviceId: null, attributes: {}, allowed: false });
  // The device ids it matched are the API's own.
  const filter = encodeURIComponent(JSON.stringify({ serial_number: { eq: macs[0]!.id.serial } }));
  const one = await t.http.api('GET', `/api/v1/prism/device_information?filter=${filter}`, t.token);
  expect(one.json.data).toHaveLength(1);
  expect(byId['node-1']!.deviceId).toBe(one.json.data[0].device_id);
});

it('a token without the Prism permission: 403 pauses the integration with Kandji\'s detail as the error', async () => {
  const token = t.server.apiTokens.create({ name: 'devices only', permissions: ['devices:list'] }).token;
  const s = await start(token);
  expect(s.status()).toMatchObject({ state: 'paused', pausedUntil: t.clock.now() + 24 * HOUR, error: { kind: 'forbidden', status: 403 } });
  expect(s.status().error!.message).toMatch(/^403 from Prism: You do not have permission to perform this action\./);
  expect(s.nodes().every((n) => Object.keys(n.attributes).length === 0)).toBe(true);
});

it('a token revoked mid-run: the next scheduled sync gets 401 and pauses; a new token resumes at once', async () => {
  const issued = t.server.apiTokens.create({ name: 'tailscale', permissions: ['prism:device_information'] });
  const s = await start(issued.token);
  const started = t.clock.now();
  t.server.apiTokens.revoke(issued.id);
  await t.clock.advance(15 * MIN);
  expect(s.status()).toMatchObject({ state: 'paused', error: { kind: 'unauthorized', status: 401 }, pausedUntil: started + 15 * MIN + 24 * HOUR, lastSuccessAt: started });
  // What the last good sync wrote stays.
  expect(s.node('node-1')).toMatchObject({ attributes: { 'kandji:agentInstalled': true }, allowed: true });
  // Paused: the clock moving on past several 15-minute marks tries nothing.
  await t.clock.advance(2 * HOUR);
  expect(s.status()).toMatchObject({ state: 'paused', syncs: 2 });
  expect(events.filter((e) => e.type === 'sync')).toHaveLength(2);
  const fresh = t.server.apiTokens.create({ name: 'tailscale (rotated)', permissions: ['prism:device_information'] });
  const report = await s.update({ token: fresh.token });
  expect(report).toMatchObject({ ok: true, trigger: 'update', matched: 5 });
  expect(s.status()).toMatchObject({ state: 'active', error: null, pausedUntil: null, syncs: 3 });
  expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['paused', 'resumed']));
  expect(s.audit().map((a) => a.action)).toEqual(expect.arrayContaining(['Create posture integration', 'Update posture integration']));
});
