/**
 * TLS inspection against the agent's certificate pin, over real sockets: a server on port 0 with
 * tenant names, Macs that resolve them themselves, and the fleet's in-process inspecting proxy (a
 * real CONNECT proxy and TLS man-in-the-middle with its own CA). Without inspection the agent's
 * pinned connections succeed; under inspection MDM keeps working (the Mac trusts the inspection
 * CA) while the agent refuses every connection (agent.pin-failure naming the host, the pin it
 * expects and the one presented); exempting the device domain restores it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { AGENT_BUNDLE_ID, publicKeyPin } from '../../protocol/agent';
import { tenantDomains } from '../../protocol/tenant';
import { Fleet, type MacEvent, type SimulatedMac } from '../../agent-sim';
import { startTestServer, type TestServer } from '../helpers/server';
import { settleTenantFleet, startTenantFleet } from '../helpers/tenant-fleet';

let t: TestServer;
let fleet: Fleet;
let events: MacEvent[];
const errors: unknown[] = [];
let serverPin: string;

const settle = () => settleTenantFleet(t, fleet);

async function advance(ms: number): Promise<void> {
  await t.clock.advance(ms);
  await settle();
}

const since = (n: number) => events.slice(n);
const of = (list: MacEvent[], mac: SimulatedMac, type: string) => list.filter((e) => e.udid === mac.udid && e.type === type);
const serverCheckins = (mac: SimulatedMac) => t.server.events.query({ limit: 100_000, types: ['agent.checkin'], udid: mac.udid }).length;

beforeAll(async () => {
  t = await startTestServer({ deviceNames: 'tenant' });
  serverPin = publicKeyPin(readFileSync(join(t.server.dataDir, 'server.pem')));
  events = [];
  fleet = await startTenantFleet(t, { seed: 'e2e-inspection', count: 2, onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
  expect(await fleet.enrollAll()).toEqual({ enrolled: 2, failed: [] });
  await settle();
});

afterAll(async () => {
  await fleet?.stop();
  await t?.stop();
  expect(errors).toEqual([]);
});

describe('the agent pins its server key', () => {
  test('without inspection: the pin the install delivered is the server key, and every pinned check-in succeeds', async () => {
    for (const mac of fleet.macs) {
      expect(mac.state.apps.has(AGENT_BUNDLE_ID)).toBe(true);
      expect(mac.state.agent.pin).toBe(serverPin);
      expect(mac.state.agent.checkinUrl).toContain(tenantDomains(t.server.tenant).device);
    }
    const before = events.length;
    const counts = fleet.macs.map(serverCheckins);
    await advance(45 * 60_000);
    fleet.macs.forEach((mac, i) => expect(serverCheckins(mac)).toBeGreaterThanOrEqual(counts[i]! + 2));
    expect(since(before).filter((e) => e.type === 'agent.pin-failure')).toEqual([]);
    // No policy: no proxy was ever needed.
    expect(await fleet.network.runningProxy()).toBeUndefined();
  });

  test('under TLS inspection MDM still works through the inspector, but the agent refuses every inspected connection', async () => {
    const [inspected, bystander] = fleet.macs as [SimulatedMac, SimulatedMac];
    const state = (await t.http.api('POST', `/sim/v1/devices/${inspected.udid}/faults`, t.token, { kind: 'tls-inspection' })).json;
    expect(state.active).toEqual([{ kind: 'tls-inspection', exempt: [] }]);
    expect(state.network).toEqual({ tlsInspection: { exempt: [] }, from: { tlsInspection: 'mac' } });

    const before = events.length;
    const checkinsBefore = serverCheckins(inspected);
    const bystanderBefore = serverCheckins(bystander);
    await advance(30 * 60_000);

    // The agent: refused, twice in 30 minutes, naming what it expected and what it was shown.
    const failures = of(since(before), inspected, 'agent.pin-failure');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    const device = tenantDomains(t.server.tenant).device;
    const proxy = (await fleet.network.runningProxy())!;
    const inspectionCa = await fleet.network.inspectionCa();
    for (const f of failures) {
      expect(f.data).toMatchObject({ kind: 'recurring', host: device, expected: serverPin, issuer: 'mdmsim TLS Inspection CA' });
      expect(f.data!.presented).not.toBe(serverPin);
    }
    // Not an HTTP error from the server: nothing reached it.
    expect(serverCheckins(inspected)).toBe(checkinsBefore);
    expect(t.server.events.query({ limit: 1000, types: ['agent.rejected'], udid: inspected.udid })).toEqual([]);
    // The other Mac is not inspected and goes on.
    expect(serverCheckins(bystander)).toBeGreaterThanOrEqual(bystanderBefore + 2);
    expect(of(since(before), bystander, 'agent.pin-failure')).toEqual([]);

    // MDM: a command is pushed, fetched, answered through the inspector (the Mac trusts its CA).
    const queued = (await t.http.api('PUT', `/sim/v1/devices/${inspected.udid}/commands`, t.token, { RequestType: 'DeviceInformation', Queries: ['OSVersion'] })).json;
    await settle();
    const result = (await t.http.api('GET', `/sim/v1/commands/${queued.CommandUUID}`, t.token)).json;
    expect(JSON.stringify(result)).toContain('Acknowledged');
    // Each CONNECT says what it carries: MDM's own connections were inspected, not just the agent's.
    const connects = of(since(before), inspected, 'network.proxy.connect');
    const mdm = connects.filter((e) => e.data?.for === 'mdm');
    expect(mdm.length).toBeGreaterThanOrEqual(1);
    for (const e of mdm) expect(e.data).toMatchObject({ outcome: 'inspected', host: device });
    const agent = connects.filter((e) => e.data?.for === 'agent');
    expect(agent.length).toBeGreaterThanOrEqual(failures.length);
    expect(connects.every((e) => e.data?.outcome === 'inspected')).toBe(true);
    // One event per CONNECT: the proxy's count is the events' count.
    expect(proxy.counts.inspected).toBe(events.filter((e) => e.type === 'network.proxy.connect' && e.data?.outcome === 'inspected').length);
    // The inspector's leaf really is the inspection CA's: the presented pin is its leaf key, not the server's.
    expect(new X509Certificate(inspectionCa.certPem).subject).toContain('mdmsim TLS Inspection CA');
  });

  test('a reinstalled agent gets the same pin and stays refused: reinstalling cannot fix the network', async () => {
    const mac = fleet.macs[0]!;
    const before = events.length;
    const answer = await t.http.api('POST', `/sim/v1/devices/${mac.udid}/agent/reinstall`, t.token);
    expect(answer.status).toBe(201);
    await settle();
    expect(of(since(before), mac, 'mac.command.handled').map((e) => `${e.data?.requestType} ${e.data?.status}`)).toContain('InstallEnterpriseApplication Acknowledged');
    expect(mac.state.agent.pin).toBe(serverPin);
    const refused = of(since(before), mac, 'agent.pin-failure');
    expect(refused.map((e) => e.data?.kind)).toContain('install');
  });

  test('exempting the device domain from inspection restores the agent (a plain tunnel shows it the server key)', async () => {
    const mac = fleet.macs[0]!;
    const d = tenantDomains(t.server.tenant);
    const state = (await t.http.api('POST', `/sim/v1/devices/${mac.udid}/faults`, t.token, { kind: 'tls-inspection', exempt: ['{device-web-api}', '{device-devices}'] })).json;
    expect(state.active).toEqual([{ kind: 'tls-inspection', exempt: [d.webApiDevice, d.devicesDevice] }]);
    const before = events.length;
    const checkins = serverCheckins(mac);
    await advance(30 * 60_000);
    expect(of(since(before), mac, 'agent.pin-failure')).toEqual([]);
    expect(serverCheckins(mac)).toBeGreaterThanOrEqual(checkins + 2);
    const tunnels = of(since(before), mac, 'network.proxy.connect').filter((e) => e.data?.host === d.device);
    expect(tunnels.length).toBeGreaterThan(0);
    for (const e of tunnels) expect(e.data).toMatchObject({ outcome: 'tunnel', exempt: true });

    // Cleared, the Mac is on an open network again: no proxy in its path.
    const cleared = (await t.http.api('DELETE', `/sim/v1/devices/${mac.udid}/faults?kind=tls-inspection`, t.token)).json;
    expect(cleared.active).toEqual([]);
    expect(cleared.network).toBeUndefined();
    const after = events.length;
    await advance(15 * 60_000);
    expect(of(since(after), mac, 'network.proxy.connect')).toEqual([]);
    expect(of(since(after), mac, 'agent.pin-failure')).toEqual([]);
  });
});
