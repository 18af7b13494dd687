/**
 * The 7-day agent-reinstall rule end to end, on the virtual clock: a signed TestMac over real
 * sockets, the server's hourly sweep, pushes through the APNs mock's courier.
 */
import { reports } from '../../protocol/result';
import { agentCheckin, apiOf, DAY, eventsOf, freshId, HOUR, PushableMac, startAgentServer } from '../helpers/agent';
import type { TestServer } from '../helpers/server';
import type { AgentPolicyOptions } from '../../server/policy/settings';

const servers: TestServer[] = [];
const macs: PushableMac[] = [];

afterEach(async () => {
  for (const m of macs.splice(0)) await m.close();
  for (const s of servers.splice(0)) await s.stop();
});

async function setup(agentPolicy: AgentPolicyOptions = {}): Promise<TestServer> {
  const t = await startAgentServer({ agentPolicy });
  servers.push(t);
  return t;
}

/** Enrolls a Mac, answers its enrollment install as told, and (if it worked) has the agent check in once. */
async function enrolledMac(t: TestServer, n: number, firstInstall: 'Acknowledged' | 'Error' = 'Acknowledged'): Promise<PushableMac> {
  const mac = await PushableMac.create(t, freshId(n));
  macs.push(mac);
  await mac.enroll();
  await mac.nextPush();
  const install = (await mac.idle())!;
  expect(install.Command.RequestType).toBe('InstallEnterpriseApplication');
  await answer(mac, install.CommandUUID, firstInstall);
  if (firstInstall === 'Acknowledged') expect((await agentCheckin(mac, 'install')).status).toBe(200);
  return mac;
}

const CHAIN = [{ ErrorCode: 1006, ErrorDomain: 'MCInstallationErrorDomain', LocalizedDescription: 'The package could not be downloaded.' }];

async function answer(mac: PushableMac, commandUUID: string, status: 'Acknowledged' | 'Error' | 'NotNow'): Promise<void> {
  if (status === 'Acknowledged') await mac.ack(commandUUID);
  else if (status === 'NotNow') await mac.notNow(commandUUID);
  else await mac.report(reports.Error({ UDID: mac.udid }, commandUUID, CHAIN), 'InstallEnterpriseApplication');
}

/** The Mac connects (MDM check-in) and answers whatever it is given with `status`; returns the commands it got. */
async function connect(mac: PushableMac, status: 'Acknowledged' | 'Error' | 'NotNow'): Promise<string[]> {
  const got: string[] = [];
  let command = await mac.idle();
  while (command) {
    got.push(command.CommandUUID);
    if (status === 'NotNow') {
      await mac.notNow(command.CommandUUID);
      break;
    }
    await answer(mac, command.CommandUUID, status);
    command = await mac.idle();
  }
  return got;
}

describe('the reinstall rule', () => {
  it('fires after 7 days of agent silence while MDM checks in, not before, and never twice while pending', async () => {
    const t = await setup();
    const mac = await enrolledMac(t, 1);
    const heard = t.clock.now();
    for (let day = 1; day <= 7; day++) {
      await t.clock.advance(DAY);
      expect(await connect(mac, 'Acknowledged')).toEqual([]);
    }
    // Exactly 7 days of silence is not "older than 7 days": nothing yet, not even a skip.
    expect(await eventsOf(t, 'agent.reinstall', mac.udid)).toEqual([]);
    expect(mac.pushes()).toHaveLength(1);

    await t.clock.advance(HOUR);
    const fired = await eventsOf(t, 'agent.reinstall.fired', mac.udid);
    expect(fired).toHaveLength(1);
    expect(fired[0]!.time).toBe(new Date(heard + 7 * DAY + HOUR).toISOString());
    expect(fired[0]!.data).toEqual({
      reason: 'agent-silent',
      commandUUID: expect.any(String),
      attempt: 2,
      lastMdmCheckinAt: new Date(heard + 7 * DAY).toISOString(),
      lastAgentCheckinAt: new Date(heard).toISOString(),
      agentSilentFor: '7d1h',
    });
    // Pushed at once, and the command is the agent install.
    await mac.nextPush();
    const uuid = fired[0]!.data.commandUUID as string;
    expect(t.server.store.listQueue(mac.udid).map((q) => q.commandUUID)).toEqual([uuid]);

    // The Mac keeps saying NotNow for two days: pending, so no second install, one skip event.
    for (let day = 1; day <= 2; day++) {
      expect(await connect(mac, 'NotNow')).toEqual([uuid]);
      await t.clock.advance(DAY);
    }
    expect(await eventsOf(t, 'agent.reinstall.fired', mac.udid)).toHaveLength(1);
    const skipped = await eventsOf(t, 'agent.reinstall.skipped', mac.udid);
    expect(skipped.map((e) => e.data.reason)).toEqual(['pending']);
    expect(skipped[0]!.data.pendingCommandUUID).toBe(uuid);

    // NotNow only delayed it: the install lands, the agent checks in, the rule goes quiet.
    expect(await connect(mac, 'Acknowledged')).toEqual([uuid]);
    expect((await agentCheckin(mac, 'install')).status).toBe(200);
    const events = (await eventsOf(t, 'agent', mac.udid)).length;
    await t.clock.advance(3 * DAY);
    expect((await eventsOf(t, 'agent', mac.udid)).length).toBe(events);
    expect((await apiOf(t)('GET', `/devices/${mac.udid}`)).body.agent.reinstall).toMatchObject({ attempts: 2, lastOutcome: 'Acknowledged', pendingCommandUUID: null });
  });

  it('skips a Mac whose MDM is silent too (offline all week), once, and fires when it comes back', async () => {
    const t = await setup();
    const mac = await enrolledMac(t, 2);
    const fresh = await enrolledMac(t, 3);
    for (let day = 1; day <= 9; day++) {
      await t.clock.advance(DAY);
      // The other Mac's MDM is fine and its agent too: nothing is said about it.
      await connect(fresh, 'Acknowledged');
      expect((await agentCheckin(fresh)).status).toBe(200);
    }
    expect(await eventsOf(t, 'agent.reinstall.fired')).toEqual([]);
    const skipped = await eventsOf(t, 'agent.reinstall.skipped');
    // Forty-odd hourly sweeps saw it overdue; the log says so once.
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ udid: mac.udid, data: { reason: 'mdm-silent' } });
    expect(skipped[0]!.summary).toMatch(/MDM silent too/);

    // Back online: its first MDM check-in finds the agent overdue and MDM fresh.
    expect(await connect(mac, 'NotNow')).toEqual([]);
    const [fired] = await eventsOf(t, 'agent.reinstall.fired', mac.udid);
    expect(fired).toMatchObject({ time: new Date(t.clock.now()).toISOString(), data: { reason: 'agent-silent', attempt: 2 } });
    await mac.nextPush();
  });

  it.each(['Error', 'Acknowledged'] as const)('retries at most once per retryInterval when each install answers %s and the agent stays silent', async (status) => {
    const t = await setup();
    // The first install failed: the rule counts the silence from the enrollment.
    const mac = await enrolledMac(t, 4, 'Error');
    const enrolledAt = t.clock.now();
    for (let day = 1; day <= 10; day++) {
      await t.clock.advance(DAY);
      await connect(mac, status);
    }
    const fired = await eventsOf(t, 'agent.reinstall.fired', mac.udid);
    const times = fired.map((e) => Date.parse(e.time) - enrolledAt);
    // 7 days after enrollment (at the first hourly sweep past it); then each waits a day from
    // the Mac's answer (it answers at its daily check-in): no storm.
    expect(times).toEqual([7 * DAY + HOUR, 9 * DAY, 10 * DAY]);
    expect(fired.map((e) => e.data.attempt)).toEqual([2, 3, 4]);
    expect(fired[0]!.data.reason).toBe('agent-never-checked-in');
    expect(fired[0]!.data.lastAgentCheckinAt).toBeNull();
    // Between fires the device waits, and the log says why, once per wait.
    const skipped = await eventsOf(t, 'agent.reinstall.skipped', mac.udid);
    expect(skipped.map((e) => e.data.reason)).toEqual(['pending', 'retry-wait', 'pending', 'retry-wait', 'pending', 'retry-wait']);
    expect(skipped[1]!.data).toMatchObject({ lastOutcome: status, nextAttemptAt: new Date(enrolledAt + 9 * DAY).toISOString() });
    const pushes = mac.pushes().length;
    expect(pushes).toBe(4);
  });

  it('honours a different retryInterval and agentWindow given as options', async () => {
    const t = await setup({ agentWindow: '2d', retryInterval: '6h', mdmWindow: 3 * DAY });
    const mac = await enrolledMac(t, 5, 'Error');
    const enrolledAt = t.clock.now();
    for (let h = 1; h <= 66; h += 6) {
      await t.clock.advance(6 * HOUR);
      await connect(mac, 'Error');
    }
    const times = (await eventsOf(t, 'agent.reinstall.fired', mac.udid)).map((e) => (Date.parse(e.time) - enrolledAt) / HOUR);
    expect(times[0]).toBe(49);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(6);
    expect(times.length).toBeGreaterThanOrEqual(2);
  });

  it('evaluates on MDM check-ins too, without waiting for the sweep', async () => {
    const t = await setup({ sweepInterval: '30d' });
    const mac = await enrolledMac(t, 6);
    await t.clock.advance(4 * DAY);
    await connect(mac, 'Acknowledged');
    await t.clock.advance(3 * DAY + 60_000);
    expect(await eventsOf(t, 'agent.reinstall', mac.udid)).toEqual([]);
    // The connect's own answer is computed first (empty), then the rule fires and pushes.
    expect(await mac.idle()).toBeUndefined();
    const [fired] = await eventsOf(t, 'agent.reinstall.fired', mac.udid);
    expect(fired!.time).toBe(new Date(t.clock.now()).toISOString());
    await mac.nextPush();
    expect((await mac.idle())?.CommandUUID).toBe(fired!.data.commandUUID);
  });

  it('records a skip with reason disabled when the rule is off, once', async () => {
    const t = await setup({ reinstall: false });
    const mac = await enrolledMac(t, 7);
    for (let day = 1; day <= 9; day++) {
      await t.clock.advance(DAY);
      await connect(mac, 'Acknowledged');
    }
    expect(await eventsOf(t, 'agent.reinstall.fired', mac.udid)).toEqual([]);
    expect((await eventsOf(t, 'agent.reinstall.skipped', mac.udid)).map((e) => e.data.reason)).toEqual(['disabled']);
    // Turned on at runtime: the next sweep fires.
    expect((await apiOf(t)('PATCH', '/agent-policy', { reinstall: true })).status).toBe(200);
    await t.clock.advance(HOUR);
    expect(await eventsOf(t, 'agent.reinstall.fired', mac.udid)).toHaveLength(1);
  });

  it('sweepNow() runs the rule at once and reports what it did', async () => {
    const t = await setup({ sweepInterval: '30d' });
    const mac = await enrolledMac(t, 8);
    await t.clock.advance(3 * DAY);
    await connect(mac, 'Acknowledged');
    await t.clock.advance(5 * DAY);
    const report = await t.server.agentPolicy.sweepNow();
    expect(report).toEqual({ at: new Date(t.clock.now()).toISOString(), evaluated: 1, fired: [mac.udid], skipped: {} });
    await mac.nextPush();
    const again = await apiOf(t)('POST', '/agent-policy/sweep');
    expect(again.body).toMatchObject({ evaluated: 1, fired: [], skipped: { pending: 1 } });
  });
});
