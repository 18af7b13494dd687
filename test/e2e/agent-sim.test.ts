/**
 * agent-sim against the real server, over the wire only, with signatures on and a virtual
 * clock: enrollment, pushes and the connect loop, the agent, and the device faults.
 */
import { readFileSync } from 'node:fs';
import { AGENT_BUNDLE_ID } from '../../protocol/agent';
import { Fleet, type MacEvent, type SimulatedMac } from '../../agent-sim';
import { startTestServer, type TestServer } from '../helpers/server';

let t: TestServer;
let fleet: Fleet;
let events: MacEvent[];
const errors: unknown[] = [];

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await fleet.settled();
    await t.server.settled();
    await new Promise((r) => setTimeout(r, 2));
  }
  await fleet.settled();
}

/** Advances virtual time, letting each instant's work (pushes, connects) finish. */
async function advance(ms: number): Promise<void> {
  await t.clock.advance(ms);
  await settle();
}

function of(mac: SimulatedMac, type: string): MacEvent[] {
  return events.filter((e) => e.udid === mac.udid && e.type === type);
}

async function enqueue(mac: SimulatedMac, command: Record<string, unknown>): Promise<string> {
  const r = await t.http.api('PUT', `/sim/v1/devices/${mac.udid}/commands`, t.token, command);
  expect(r.status).toBeLessThan(300);
  return (r.json.CommandUUID ?? r.json.commandUUID ?? r.json[0]?.CommandUUID) as string;
}

async function results(mac: SimulatedMac): Promise<Array<{ RequestType: string; Status: string; report: any }>> {
  const r = await t.http.api('GET', `/sim/v1/devices/${mac.udid}/commands`, t.token);
  return r.json.results;
}

beforeAll(async () => {
  t = await startTestServer();
  events = [];
  fleet = await Fleet.start({
    server: t.server.url,
    ca: readFileSync(t.server.info.caCert),
    courier: t.server.info.courier!,
    clock: t.clock,
    seed: 'e2e-agent-sim',
    keyType: 'ec',
    onEvent: (e) => events.push(e),
    onError: (e) => errors.push(e),
  });
  t.server.setDeviceFaultHandler(fleet.faults);
});

afterAll(async () => {
  await fleet?.stop();
  await t?.stop();
  expect(errors).toEqual([]);
});

describe('a simulated Mac against the server', () => {
  let mac: SimulatedMac;

  test('enrolls over the wire (signed), gets the agent install pushed, installs it, and its agent checks in', async () => {
    [mac] = fleet.addMacs(1) as [SimulatedMac];
    const report = await fleet.enrollAll();
    expect(report).toEqual({ enrolled: 1, failed: [] });
    await settle();
    expect(mac.enrolled).toBe(true);
    expect(of(mac, 'mac.checkin').map((e) => e.data?.messageType)).toEqual(['Authenticate', 'TokenUpdate']);
    expect(of(mac, 'mac.push.received').length).toBeGreaterThanOrEqual(1);
    const handled = of(mac, 'mac.command.handled').map((e) => `${e.data?.requestType} ${e.data?.status}`);
    expect(handled).toContain('InstallEnterpriseApplication Acknowledged');
    expect(mac.state.apps.has(AGENT_BUNDLE_ID)).toBe(true);
    expect(of(mac, 'mac.agent.checkin').map((e) => e.data?.kind)).toEqual(['install']);
    const device = await t.http.api('GET', `/sim/v1/devices/${mac.udid}`, t.token);
    expect(device.status).toBe(200);
    expect(JSON.stringify(device.json)).toContain(mac.identity.serialNumber);
    expect(mac.faultState()).toEqual({ udid: mac.udid, active: [], agent: 'running', online: true });
  });

  test('the agent checks in every 15 minutes, with the inventory once a day', async () => {
    const before = of(mac, 'mac.agent.checkin').length;
    await advance(61 * 60_000);
    const recurring = of(mac, 'mac.agent.checkin').slice(before);
    // The first one waits for the server's next_checkin_seconds (900) after the install check-in.
    expect(recurring.length).toBeGreaterThanOrEqual(3);
    expect(recurring.every((e) => e.data?.kind === 'recurring')).toBe(true);
    const gaps = recurring.slice(1).map((e, i) => e.at - recurring[i]!.at);
    expect(new Set(gaps)).toEqual(new Set([15 * 60_000]));
    // Whole minutes: the fleet's check-ins share instants.
    expect(recurring.every((e) => e.at % 60_000 === 0)).toBe(true);
    await advance(24 * 3600_000);
    expect(of(mac, 'mac.agent.checkin').filter((e) => e.data?.kind === 'inventory')).toHaveLength(1);
  });

  test('a push runs the connect loop: a command is answered with a report that validates', async () => {
    const uuid = await enqueue(mac, { RequestType: 'DeviceInformation', Queries: ['SerialNumber', 'OSVersion', 'Model'] });
    await settle();
    const r = (await results(mac)).find((x: any) => x.CommandUUID === uuid)!;
    expect(r.Status).toBe('Acknowledged');
    expect(r.report.QueryResponses.SerialNumber).toBe(mac.identity.serialNumber);
  });

  test('offline: a push waits at the courier and is delivered when the Mac is back', async () => {
    await fleet.faults.apply(mac.udid, [{ kind: 'offline', forMs: 3600_000 }]);
    expect(mac.online).toBe(false);
    const uuid = await enqueue(mac, { RequestType: 'SecurityInfo' });
    await settle();
    expect((await results(mac)).some((x: any) => x.CommandUUID === uuid)).toBe(false);
    const failedBefore = of(mac, 'mac.agent.checkin.failed').length;
    await advance(30 * 60_000);
    expect(of(mac, 'mac.agent.checkin.failed').length).toBeGreaterThan(failedBefore);
    await advance(31 * 60_000);
    expect(mac.online).toBe(true);
    const r = (await results(mac)).find((x: any) => x.CommandUUID === uuid);
    expect(r?.Status).toBe('Acknowledged');
  });

  test('NotNow for 2 connects, then the command lands', async () => {
    await fleet.faults.apply(mac.udid, [{ kind: 'notnow', connects: 2 }]);
    const uuid = await enqueue(mac, { RequestType: 'ProfileList' });
    await settle();
    expect((await results(mac)).filter((x: any) => x.CommandUUID === uuid).map((x: any) => x.Status)).toEqual(['NotNow']);
    await mac.connect();
    await settle();
    expect(mac.faultState().active).toEqual([]);
    await mac.connect();
    await settle();
    expect((await results(mac)).filter((x: any) => x.CommandUUID === uuid).map((x: any) => x.Status)).toEqual(['NotNow', 'NotNow', 'Acknowledged']);
  });

  test('a connect asked for during a loop runs one more loop after it, never two at once', async () => {
    const before = of(mac, 'mac.connect').length;
    const a = mac.connect();
    expect(mac.connect()).toBe(a);
    expect(mac.connect()).toBe(a);
    await a;
    await settle();
    expect(of(mac, 'mac.connect').length).toBe(before + 2);
  });

  test('agent-network-blocked: check-ins fail on schedule; cleared, they succeed again', async () => {
    await fleet.faults.apply(mac.udid, [{ kind: 'agent-network-blocked' }]);
    expect(mac.faultState().agent).toBe('blocked');
    const ok = of(mac, 'mac.agent.checkin').length;
    const failed = of(mac, 'mac.agent.checkin.failed').length;
    await advance(30 * 60_000);
    expect(of(mac, 'mac.agent.checkin')).toHaveLength(ok);
    expect(of(mac, 'mac.agent.checkin.failed').length).toBe(failed + 2);
    await fleet.faults.clear(mac.udid, 'agent-network-blocked');
    await advance(15 * 60_000);
    expect(of(mac, 'mac.agent.checkin')).toHaveLength(ok + 1);
  });

  test('agent-crashed: the app stays, the agent is silent', async () => {
    await fleet.faults.apply(mac.udid, [{ kind: 'agent-crashed' }]);
    const ok = of(mac, 'mac.agent.checkin').length;
    await advance(60 * 60_000);
    expect(of(mac, 'mac.agent.checkin')).toHaveLength(ok);
    expect(mac.state.apps.has(AGENT_BUNDLE_ID)).toBe(true);
    expect(mac.faultState().agent).toBe('crashed');
    await fleet.faults.clear(mac.udid, 'agent-crashed');
    await settle();
    expect(of(mac, 'mac.agent.checkin').length).toBeGreaterThan(ok);
  });

  test('agent-uninstalled: gone from the app list and silent; a reinstall brings it back', async () => {
    await fleet.faults.apply(mac.udid, [{ kind: 'agent-uninstalled' }]);
    expect(mac.state.apps.has(AGENT_BUNDLE_ID)).toBe(false);
    expect(mac.faultState().agent).toBe('not-installed');
    const ok = of(mac, 'mac.agent.checkin').length;
    await advance(60 * 60_000);
    expect(of(mac, 'mac.agent.checkin')).toHaveLength(ok);
    const r = await t.http.api('POST', `/api/v1/devices/${mac.udid}/action/reinstallagent`, t.token);
    if (r.status >= 300) {
      // Without the Kandji-style route, ask the control API to run the install directly.
      await t.http.api('POST', '/sim/v1/agent-policy/sweep', t.token);
    }
    await settle();
    if (!mac.state.apps.has(AGENT_BUNDLE_ID)) {
      await advance(8 * 24 * 3600_000);
    }
    expect(mac.state.apps.has(AGENT_BUNDLE_ID)).toBe(true);
    expect(of(mac, 'mac.agent.checkin').length).toBeGreaterThan(ok);
  });
});

describe('package-download faults', () => {
  test('a corrupted package fails the hash check: Error with an ErrorChain in the server results; the agent is not installed', async () => {
    const [mac] = fleet.addMacs(1) as [SimulatedMac];
    mac.applyFaults([{ kind: 'package-download', mode: 'corrupt', count: 1 }]);
    await mac.enroll();
    await settle();
    const iea = (await results(mac)).filter((x) => x.RequestType === 'InstallEnterpriseApplication');
    expect(iea.map((x) => x.Status)).toEqual(['Error']);
    expect(iea[0]!.report.ErrorChain.length).toBeGreaterThan(0);
    expect(mac.state.apps.has(AGENT_BUNDLE_ID)).toBe(false);
    expect(mac.faultState().active).toEqual([]);
  });

  test('a failing download answers Error too', async () => {
    const [mac] = fleet.addMacs(1) as [SimulatedMac];
    mac.applyFaults([{ kind: 'package-download', mode: 'fail' }]);
    await mac.enroll();
    await settle();
    const iea = (await results(mac)).filter((x) => x.RequestType === 'InstallEnterpriseApplication');
    expect(iea.map((x) => x.Status)).toEqual(['Error']);
    expect(mac.faultState().active).toEqual([{ kind: 'package-download', mode: 'fail' }]);
  });
});

describe('erase, restart, unenroll', () => {
  test('EraseDevice: the Mac wipes and vanishes (no CheckOut, token unregistered); it can enroll again and gets the agent again', async () => {
    const [mac] = fleet.addMacs(1) as [SimulatedMac];
    await mac.enroll();
    await settle();
    expect(mac.state.apps.has(AGENT_BUNDLE_ID)).toBe(true);
    await enqueue(mac, { RequestType: 'EraseDevice', PIN: '123456' });
    await settle();
    expect(mac.enrolled).toBe(false);
    expect(mac.state.apps.has(AGENT_BUNDLE_ID)).toBe(false);
    expect(of(mac, 'mac.checkin').map((e) => e.data?.messageType)).not.toContain('CheckOut');
    expect(of(mac, 'mac.erased')).toHaveLength(1);
    await mac.enroll();
    await settle();
    expect(mac.enrolled).toBe(true);
    expect(mac.state.apps.has(AGENT_BUNDLE_ID)).toBe(true);
  });

  test('RestartDevice: offline about two minutes, then back with an Idle connect', async () => {
    const [mac] = fleet.addMacs(1) as [SimulatedMac];
    await mac.enroll();
    await settle();
    await enqueue(mac, { RequestType: 'RestartDevice' });
    await settle();
    expect(mac.online).toBe(false);
    const connects = of(mac, 'mac.connect').length;
    await advance(3 * 60_000);
    expect(mac.online).toBe(true);
    expect(of(mac, 'mac.connect').length).toBe(connects + 1);
  });

  test('ShutDownDevice: offline until powerOn', async () => {
    const [mac] = fleet.addMacs(1) as [SimulatedMac];
    await mac.enroll();
    await settle();
    await enqueue(mac, { RequestType: 'ShutDownDevice' });
    await settle();
    expect(mac.online).toBe(false);
    await advance(60 * 60_000);
    expect(mac.online).toBe(false);
    await mac.powerOn();
    await settle();
    expect(mac.online).toBe(true);
  });

  test('unenroll: CheckOut, then the server no longer reaches it', async () => {
    const [mac] = fleet.addMacs(1) as [SimulatedMac];
    await mac.enroll();
    await settle();
    await mac.unenroll();
    await settle();
    expect(of(mac, 'mac.checkin').map((e) => e.data?.messageType)).toContain('CheckOut');
    expect(mac.enrolled).toBe(false);
    const device = await t.http.api('GET', `/sim/v1/devices/${mac.udid}`, t.token);
    expect(JSON.stringify(device.json)).toMatch(/"enabled":false|checked.?out/i);
  });
});
