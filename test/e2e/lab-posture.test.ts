/**
 * Posture sync in the in-process lab, on its virtual clock: lab.postureSync() with its
 * defaults (a node per Mac with its serial varied, two nodes MDM does not know, the timeline),
 * and the agent-posture scenario played end to end through the programmatic API.
 */
import { playScenario, startLab, type Lab, agentPosture } from '../../index';

jest.setTimeout(60_000);

describe('lab.postureSync()', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await startLab({ devices: 3, server: { agentPolicy: { inventoryInterval: false } } });
  });

  afterAll(async () => {
    await lab.stop();
  });

  it('matches every Mac whatever the case and spacing of its collected serial, leaves the unknown nodes alone, and puts it all on the timeline', async () => {
    const sync = await lab.postureSync({ rules: ['kandji:agentInstalled == true', 'kandji:mdmEnabled == true'] });
    const nodes = sync.nodes();
    expect(nodes).toHaveLength(5);
    const forMacs = nodes.slice(0, 3);
    // The serials as collected differ from MDM's in case or spacing, and still match.
    expect(forMacs.filter((n, i) => n.serialNumbers[0] !== lab.macs[i]!.identity.serialNumber).length).toBeGreaterThanOrEqual(2);
    for (const n of forMacs) expect(n).toMatchObject({ attributes: { 'kandji:mdmEnabled': true, 'kandji:agentInstalled': true }, allowed: true });
    for (const n of nodes.slice(3)) expect(n).toMatchObject({ deviceId: null, attributes: {}, allowed: false });
    expect(sync.status()).toMatchObject({ state: 'active', matched: 3, unmatched: 2, devices: 3 });

    const attrs = lab.events({ type: 'posture.attribute' });
    expect(attrs).toHaveLength(6);
    expect(new Set(attrs.map((e) => e.udid))).toEqual(new Set(lab.macs.map((m) => m.udid)));
    expect(lab.events({ type: 'posture.integration' })[0]).toMatchObject({ from: 'operator', to: 'posture', summary: 'Create posture integration: kandji' });

    // Every 15 minutes on the lab's clock; a no-change sync is an event too.
    const before = lab.events({ type: 'posture.sync' }).length;
    await lab.advance('1h');
    expect(lab.events({ type: 'posture.sync' }).length).toBe(before + 4);
  });

  it('stops with the lab: the removal is audited', async () => {
    const other = await startLab({ devices: 1, server: { agentPolicy: { inventoryInterval: false } } });
    const sync = await other.postureSync();
    await other.stop();
    expect(sync.status().state).toBe('stopped');
    expect(sync.audit().at(-1)).toMatchObject({ action: 'Removed posture integration' });
  });
});

describe('the agent-posture scenario', () => {
  it('plays on the virtual clock and every expectation holds: denied without the agent, paused on 401, resumed by a new token, allowed after the reinstall', async () => {
    const report = await playScenario(agentPosture);
    const failed = report.expectations.filter((x) => !x.ok);
    expect(failed).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.virtualMs).toBe(10 * 86_400_000);
    const timeline = report.timeline.join('\n');
    expect(timeline).toMatch(/^day {2}2 \d\d:\d\d:\d\d {2}Mac 2 {3}posture → tailnet {2}Update node attribute \S+: kandji:agentInstalled true → false$/m);
    expect(timeline).toMatch(/^day {2}2 .*Mac 2 {3}tailnet → Mac .*access denied \(fails kandji:agentInstalled == true\)$/m);
    expect(timeline).toMatch(/^day {2}3 09:00:00 .*API token "tailscale posture sync" revoked$/m);
    expect(timeline).toMatch(/^day {2}3 09:15:00 .*posture → MDM .*Prism read failed: 401/m);
    expect(timeline).toMatch(/^day {2}3 09:15:00 .*posture sync paused until day 4 09:15:00 after 401$/m);
    expect(timeline).toMatch(/^day {2}3 15:00:00 .*posture sync resumed \(configuration updated\)/m);
    expect(timeline).toMatch(/^day {2}8 .*Mac 2 {3}posture → tailnet .*kandji:agentInstalled false → true$/m);
    // Routine syncs fold into one line a day.
    expect(timeline).toMatch(/^day {2}5 \d\d:\d\d:\d\d {10}posture → MDM {6}\d+ posture syncs with no change, the last at day 5 /m);
    expect(timeline).not.toMatch(/posture sync \(schedule\): .*no change$/m);
  });
});
