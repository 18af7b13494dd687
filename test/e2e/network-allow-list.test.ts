/**
 * An allow-list network lets through exactly the host:port pairs it lists, over real sockets: each
 * listed pair answers, each unlisted host or port fails as a blocked connection does (refused by
 * the network, ECONNREFUSED, or, behind the proxy, a CONNECT the proxy answers 403), never as an
 * HTTP error from the server. APNs is held to it too: blocked, pushes wait at APNs.
 */
import { tenantDomains } from '../../protocol/tenant';
import { Fleet, type MacEvent, type SimulatedMac } from '../../agent-sim';
import { NetworkError } from '../../agent-sim/state';
import { startTestServer, type TestServer } from '../helpers/server';
import { settleTenantFleet, startTenantFleet } from '../helpers/tenant-fleet';

let t: TestServer;
let fleet: Fleet;
let mac: SimulatedMac;
let events: MacEvent[];
const errors: unknown[] = [];
let port: number;
let otherPort: number;

const settle = () => settleTenantFleet(t, fleet);

beforeAll(async () => {
  t = await startTestServer({ deviceNames: 'tenant' });
  port = Number(new URL(t.server.url).port);
  otherPort = Number(new URL(t.server.info.apns!).port);
  events = [];
  fleet = await startTenantFleet(t, { seed: 'e2e-allow-list', count: 1, onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
  expect(await fleet.enrollAll()).toEqual({ enrolled: 1, failed: [] });
  mac = fleet.macs[0]!;
  await settle();
});

afterAll(async () => {
  await fleet?.stop();
  await t?.stop();
  expect(errors).toEqual([]);
});

const zone = () => t.server.tenant.zone;
const d = () => tenantDomains(t.server.tenant);
const ALLOW = ['{device}:{port}', '*.iot.{zone}:{port}', '{agent-downloads}:{port}'];

/** [what, host, port] — each listed pair, then unlisted hosts and ports. */
const reachableCases: Array<[string, () => string, () => number]> = [
  ['the device domain on the listed port', () => d().device, () => port],
  ['a name under the *.iot wildcard', () => `edge.iot.${zone()}`, () => port],
  ['the agent-downloads name', () => d().agentDownloads, () => port],
];
const blockedCases: Array<[string, () => string, () => number]> = [
  ['the enrollment name (not listed)', () => d().enrollment, () => port],
  ['the web app (not listed)', () => d().webApp, () => port],
  ['the other device domain (not listed)', () => d().devicesDevice, () => port],
  ['the bare iot domain (a wildcard covers names under it only)', () => `iot.${zone()}`, () => port],
  ['a listed host on another port', () => d().device, () => otherPort],
];

async function attempt(host: string, p: number): Promise<{ status?: number; error?: NetworkError }> {
  try {
    await mac.get(`https://${host}:${p}/agent/manifest.plist`, 'manifest');
    return { status: 200 };
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    return { error };
  }
}

describe.each([
  ['on an enrollment-only network (no proxy)', false],
  ['behind a proxy applying the allow-list', true],
] as const)('%s', (_name, proxy) => {
  beforeAll(() => fleet.setNetworkPolicy({ allowList: ALLOW, proxy }, mac.udid));

  test('the Mac reports the network in force, placeholders filled in', async () => {
    const state = await fleet.faults.get(mac.udid);
    expect(state?.network).toEqual({
      allow: [`${d().device}:${port}`, `*.iot.${zone()}:${port}`, `${d().agentDownloads}:${port}`],
      ...(proxy ? { proxy: true } : {}),
      from: { allow: 'mac', ...(proxy ? { proxy: 'mac' } : {}) },
    });
  });

  test.each(reachableCases)('reachable: %s', async (_what, host, p) => {
    expect(await attempt(host(), p())).toEqual({ status: 200 });
    if (proxy) expect(events.filter((e) => e.type === 'network.proxy.connect' && e.data?.host === host() && e.data.port === p()).pop()?.data?.outcome).toBe('tunnel');
  });

  test.each(blockedCases)('blocked: %s', async (_what, host, p) => {
    const before = events.length;
    const { status, error } = await attempt(host(), p());
    expect(status).toBeUndefined();
    // A connection failure, not an answer: no HTTP status, nothing reached the server.
    expect(error!.status).toBeUndefined();
    if (proxy) {
      expect(error!.code).toBe('ERR_TUNNEL_CONNECTION_FAILED');
      expect(error!.message).toMatch(/the proxy refused CONNECT .*403 Forbidden/);
      expect(events.slice(before).filter((e) => e.type === 'network.proxy.connect').map((e) => e.data)).toEqual([
        expect.objectContaining({ host: host(), port: p(), outcome: 'blocked' }),
      ]);
    } else {
      expect(error!.code).toBe('ECONNREFUSED');
      expect(error!.message).toMatch(/ECONNREFUSED .*not on its allow-list/);
      expect(events.slice(before).filter((e) => e.type === 'network.blocked').map((e) => e.data)).toEqual([{ host: host(), port: p() }]);
    }
  });
});

describe('APNs on an allow-list network', () => {
  test('unlisted, the Mac gets no pushes (they wait at APNs); listed again, the waiting push arrives and the command runs', async () => {
    fleet.setNetworkPolicy({ allowList: ['{device}:{port}', '{agent-downloads}:{port}'] }, mac.udid);
    expect(events.filter((e) => e.type === 'network.blocked' && e.data?.what === 'apns').length).toBe(1);
    const queued = (await t.http.api('PUT', `/sim/v1/devices/${mac.udid}/commands`, t.token, { RequestType: 'DeviceInformation', Queries: ['OSVersion'] })).json;
    expect(queued.push.sent).toBe(1);
    await settle();
    const delivered = () => t.server.events.query({ limit: 1000, types: ['mdm.command.delivered'], udid: mac.udid }).filter((e) => (e.data as { commandUUID?: string }).commandUUID === queued.CommandUUID);
    expect(delivered()).toEqual([]);

    fleet.setNetworkPolicy({ allowList: ['{device}:{port}', '{agent-downloads}:{port}', '{apns}:{apns-port}'] }, mac.udid);
    await settle();
    expect(events.some((e) => e.type === 'network.apns.reachable')).toBe(true);
    expect(delivered()).toHaveLength(1);
    const result = (await t.http.api('GET', `/sim/v1/commands/${queued.CommandUUID}`, t.token)).json;
    expect(JSON.stringify(result)).toContain('Acknowledged');
  });

  test('a fault naming a placeholder the fleet does not know is a 400 naming the field, and changes nothing', async () => {
    const before = (await fleet.faults.get(mac.udid))?.network;
    const r = await t.http.api('POST', `/sim/v1/devices/${mac.udid}/faults`, t.token, { faults: [{ kind: 'proxy' }, { kind: 'allow-list', allow: ['{device}:{port}', '{devise}:{port}'] }] });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'unknown-network-name', field: 'faults[1].allow[1]' });
    expect((await fleet.faults.get(mac.udid))?.network).toEqual(before);
  });

  test('cleared, the Mac is on an open network again', async () => {
    fleet.setNetworkPolicy(undefined, mac.udid);
    expect((await fleet.faults.get(mac.udid))?.network).toBeUndefined();
    expect(await attempt(d().enrollment, port)).toEqual({ status: 200 });
  });
});
