/**
 * The agent-reinstall story end to end through the programmatic API: a real server on
 * loopback, simulated Macs speaking HTTPS and the courier, one virtual clock. Ten virtual
 * days play in seconds.
 */
import { commands } from '../../protocol/command';
import type { EventRecord } from '../../server/storage/types';
import { startLab, type Lab } from '../../lab/lab';
import { playScenario } from '../../lab/scenario';
import { agentReinstall } from '../../lab/scenarios';
import { HttpsClient } from '../helpers/mdm-client';

jest.setTimeout(60_000);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const dataOf = (e: EventRecord) => (e.data ?? {}) as Record<string, unknown>;
const of = (lab: Lab, type: string, n: number) => lab.events({ type, udid: lab.mac(n).udid });

describe('the agent-reinstall scenario', () => {
  it('plays through the programmatic API and every expectation holds', async () => {
    const wall = Date.now();
    const report = await playScenario(agentReinstall);
    const failed = report.expectations.filter((x) => !x.ok);
    expect(failed).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.virtualMs).toBe(10 * DAY);
    expect(Date.now() - wall).toBeLessThan(45_000);
    // The timeline shows the story with virtual timestamps.
    expect(report.timeline.some((l) => /^day  0 09:00:00 {2}Mac 1 .*Authenticate/.test(l))).toBe(true);
    expect(report.timeline.some((l) => /^day  9 .*Mac 2 .*reinstall/i.test(l))).toBe(true);
  });
});

describe('the reinstall rule with simulated Macs', () => {
  let lab: Lab;
  afterEach(async () => {
    await lab?.stop();
  });

  it('fires for the silent agent only after seven days, and Macs whose agents run never see it', async () => {
    lab = await startLab({ devices: 2 });
    const start = lab.now();
    for (const n of [0, 1]) {
      expect(lab.device(n)?.agentLastCheckinAt).toBe(start);
      expect(lab.mac(n).state.agent.installed).toBe(true);
    }
    await lab.advance('1d');
    await lab.fault(1, { kind: 'agent-uninstalled' });
    const lastHeard = lab.device(1)!.agentLastCheckinAt!;
    expect(lab.mac(1).state.apps.has('io.mdmsim.agent')).toBe(false);
    await lab.advance('6d');
    expect(lab.events({ type: 'agent.reinstall.fired' })).toEqual([]);
    await lab.advance('2d');
    const fired = lab.events({ type: 'agent.reinstall.fired' });
    expect(fired.map((e) => e.udid)).toEqual([lab.mac(1).udid]);
    expect(fired[0]!.at).toBeGreaterThanOrEqual(lastHeard + 7 * DAY);
    expect(fired[0]!.at).toBeLessThanOrEqual(lastHeard + 7 * DAY + HOUR);
    // Push, install, and the agent is back.
    expect(of(lab, 'mdm.push.sent', 1).some((e) => e.at === fired[0]!.at)).toBe(true);
    expect(lab.mac(1).state.agent.installed).toBe(true);
    expect(lab.device(1)!.agentLastCheckinAt!).toBeGreaterThanOrEqual(fired[0]!.at);
  });

  it('does not reinstall for a Mac offline the whole week: its MDM is silent too', async () => {
    lab = await startLab({ devices: 2 });
    await lab.advance('1h');
    await lab.fault(0, { kind: 'offline', for: '10d' });
    await lab.advance('9d');
    const fired = lab.events({ type: 'agent.reinstall.fired' });
    expect(fired.filter((e) => e.udid === lab.mac(0).udid)).toEqual([]);
    const skipped = of(lab, 'agent.reinstall.skipped', 0);
    expect(skipped.map((e) => dataOf(e).reason)).toContain('mdm-silent');
    // Pushes (daily inventory) waited at the courier; on its return the Mac connects again.
    await lab.advance('2d');
    expect(lab.mac(0).online).toBe(true);
    expect(lab.device(0)!.lastSeenAt).toBeGreaterThan(lab.now() - 2 * DAY);
  });

  it('gives a Mac whose first install failed the agent seven days after enrollment', async () => {
    lab = await startLab({ devices: 0 });
    const [mac] = lab.fleet.addMacs(1);
    mac!.applyFaults([{ kind: 'package-download', mode: 'corrupt', count: 1 }]);
    await mac!.enroll();
    await lab.settle();
    const enrolledAt = lab.now();
    const results = lab.events({ type: 'mdm.command.result', udid: mac!.udid });
    const first = results.find((e) => dataOf(e).requestType === 'InstallEnterpriseApplication')!;
    expect(dataOf(first).status).toBe('Error');
    expect(JSON.stringify(dataOf(first).errorChain)).toMatch(/sha256|hash/i);
    expect(mac!.state.agent.installed).toBe(false);
    await lab.advance('6d23h');
    expect(lab.events({ type: 'agent.reinstall.fired' })).toEqual([]);
    await lab.advance('2h');
    const fired = lab.events({ type: 'agent.reinstall.fired', udid: mac!.udid });
    expect(fired).toHaveLength(1);
    expect(fired[0]!.at - enrolledAt).toBeGreaterThanOrEqual(7 * DAY);
    expect(mac!.state.agent.installed).toBe(true);
    expect(lab.events({ type: 'agent.checkin', udid: mac!.udid }).length).toBeGreaterThan(0);
  });

  it('lets NotNow delay the install, and the install still lands', async () => {
    lab = await startLab({ devices: 0 });
    const [mac] = lab.fleet.addMacs(1);
    mac!.applyFaults([{ kind: 'notnow', connects: 2 }]);
    await mac!.enroll();
    await lab.settle();
    const notNow = lab.events({ type: 'mdm.command.result', udid: mac!.udid }).filter((e) => dataOf(e).status === 'NotNow');
    expect(notNow.length).toBeGreaterThan(0);
    expect(mac!.state.agent.installed).toBe(false);
    await lab.advance('3d');
    const acked = lab
      .events({ type: 'mdm.command.result', udid: mac!.udid })
      .filter((e) => dataOf(e).requestType === 'InstallEnterpriseApplication' && dataOf(e).status === 'Acknowledged');
    expect(acked).toHaveLength(1);
    expect(mac!.state.agent.installed).toBe(true);
    // The command was pending all along: the rule never queued a second one.
    expect(lab.events({ type: 'agent.reinstall.fired' })).toEqual([]);
  });

  it('retries an agent that stays blocked at the configured cadence, not in a storm', async () => {
    lab = await startLab({ devices: 1, server: { agentPolicy: { retryInterval: '2d' } } });
    await lab.fault(0, { kind: 'agent-network-blocked' });
    const lastHeard = lab.device(0)!.agentLastCheckinAt!;
    await lab.advance('14d');
    const fired = lab.events({ type: 'agent.reinstall.fired' });
    // Silent from day 0: fires on day 7, then every 2 days (7, 9, 11, 13): four, never more.
    expect(fired.length).toBe(4);
    expect(fired[0]!.at).toBeGreaterThanOrEqual(lastHeard + 7 * DAY);
    for (let i = 1; i < fired.length; i++) expect(fired[i]!.at - fired[i - 1]!.at).toBeGreaterThanOrEqual(2 * DAY);
    // Each was installed (the Mac acknowledges) and each agent's check-in failed on the Mac's side.
    expect(lab.events({ type: 'mac.agent.checkin.failed', udid: lab.mac(0).udid }).length).toBeGreaterThan(0);
    expect(lab.events({ type: 'agent.reinstall.skipped', udid: lab.mac(0).udid }).some((e) => dataOf(e).reason === 'retry-wait')).toBe(true);
  });

  it('installs the agent again on a Mac that erased and re-enrolled', async () => {
    lab = await startLab({ devices: 1 });
    const mac = lab.mac(0);
    await lab.command(0, commands.EraseDevice({ PIN: '123456' }));
    expect(mac.enrolled).toBe(false);
    expect(mac.state.agent.installed).toBe(false);
    await lab.advance('1h');
    await mac.enroll();
    await lab.settle();
    const delivered = lab.events({ type: 'mdm.command.delivered', udid: mac.udid }).filter((e) => dataOf(e).requestType === 'InstallEnterpriseApplication');
    expect(delivered).toHaveLength(2);
    expect(mac.state.agent.installed).toBe(true);
    expect(lab.device(0)!.agentLastCheckinAt).toBe(lab.now());
  });

  it('forwards faults posted to the control API to the Mac that has them', async () => {
    lab = await startLab({ devices: 1, server: { apiToken: 'lab-test' } });
    const udid = lab.mac(0).udid;
    const http = HttpsClient.for(lab.server);
    try {
      const r = await http.send('POST', `/sim/v1/devices/${udid}/faults`, Buffer.from(JSON.stringify({ kind: 'agent-crashed' })), {
        authorization: 'Bearer lab-test',
        'content-type': 'application/json',
      });
      expect(r.status).toBe(200);
      expect(lab.mac(0).faultState().agent).toBe('crashed');
      const bad = await http.send('POST', `/sim/v1/devices/${udid}/faults`, Buffer.from(JSON.stringify({ kind: 'gremlins' })), {
        authorization: 'Bearer lab-test',
        'content-type': 'application/json',
      });
      expect(bad.status).toBe(400);
    } finally {
      http.close();
    }
  });
});
