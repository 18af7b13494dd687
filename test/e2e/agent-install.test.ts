/**
 * The agent install on enrollment: after the first TokenUpdate of a macOS enrollment the
 * agent's InstallEnterpriseApplication is queued (shaped for the Mac's OS, valid against
 * Apple's schema) and the Mac is pushed at once; its answer is recorded; a re-enrollment
 * queues it again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_CHECKIN_PATH, AGENT_MANIFEST_PATH, publicKeyPin } from '../../protocol/agent';
import type { PlistDict } from '../../protocol/plist/types';
import { reports } from '../../protocol/result';
import { validateCommand } from '../../protocol/schema';
import { tenantDomains } from '../../protocol/tenant';
import { agentCheckin, apiOf, eventsOf, freshId, PushableMac, startAgentServer } from '../helpers/agent';
import { TestMac } from '../helpers/mdm-client';
import type { TestServer } from '../helpers/server';

let t: TestServer;
let api: ReturnType<typeof apiOf>;
const macs: PushableMac[] = [];

beforeAll(async () => {
  t = await startAgentServer();
  api = apiOf(t);
});

/** https://name:port for one of the tenant's names: devices are handed those (server/tenant/urls.ts). */
const on = (name: 'agentDownloads' | 'device') => `https://${tenantDomains(t.server.tenant)[name]}:${new URL(t.server.url).port}`;
afterAll(async () => {
  for (const m of macs) await m.close();
  await t?.stop();
});

async function pushable(n: number, osVersion = '14.4.1', build = '23E224'): Promise<PushableMac> {
  const mac = await PushableMac.create(t, freshId(n, { osVersion, build }));
  macs.push(mac);
  return mac;
}

describe('on enrollment', () => {
  it('queues InstallEnterpriseApplication with the manifest and Configuration (macOS 14) and pushes at once', async () => {
    const mac = await pushable(1);
    await mac.enroll();
    const push = await mac.nextPush();
    expect(push.payload).toEqual({ mdm: mac.pushMagic });
    const command = await mac.idle();
    expect(command?.Command).toEqual({
      RequestType: 'InstallEnterpriseApplication',
      ManifestURL: `${on('agentDownloads')}${AGENT_MANIFEST_PATH}`,
      // The pin is the server certificate's key, as the agent checks it on every connection.
      Configuration: { AgentCheckinURL: `${on('device')}${AGENT_CHECKIN_PATH}`, CheckinIntervalSeconds: 900, ServerPinSHA256: publicKeyPin(readFileSync(join(t.server.dataDir, 'server.pem'))) },
      InstallAsManaged: true,
      ManagementFlags: 1,
    });
    // TestMac.report already checked it strictly for macOS 14; say so here too.
    expect(validateCommand(command as unknown as PlistDict, { platform: 'macOS', osVersion: '14.4.1', strict: true })).toMatchObject({ ok: true, warnings: [] });

    const queued = await eventsOf(t, 'agent.install.queued', mac.udid);
    expect(queued).toHaveLength(1);
    expect(queued[0]!.data).toEqual({ reason: 'enrollment', commandUUID: command!.CommandUUID, attempt: 1 });
    const mdmQueued = (await api('GET', `/events?type=mdm.command.queued&udid=${mac.udid}`)).body.events;
    expect(mdmQueued[0]).toMatchObject({ from: 'policy', data: { requestType: 'InstallEnterpriseApplication' } });
    expect((await eventsOf(t, 'mdm.push.sent', mac.udid))[0]!.data.why).toBe('policy');
    expect((await api('GET', `/devices/${mac.udid}`)).body.agent.reinstall).toEqual({
      pendingCommandUUID: command!.CommandUUID,
      lastFiredAt: new Date(t.clock.now()).toISOString(),
      attempts: 1,
      lastOutcome: null,
      lastOutcomeAt: null,
    });
  });

  it('on macOS 10.15 leaves out what Apple introduced in 11 (Configuration, ManagementFlags) and still validates', async () => {
    const mac = await pushable(2, '10.15.7', '19H2');
    await mac.enroll();
    await mac.nextPush();
    const command = await mac.idle();
    expect(command?.Command).toEqual({ RequestType: 'InstallEnterpriseApplication', ManifestURL: `${on('agentDownloads')}${AGENT_MANIFEST_PATH}` });
    expect(validateCommand(command as unknown as PlistDict, { platform: 'macOS', osVersion: '10.15.7', strict: true }).ok).toBe(true);
    // The macOS 14 shape would not be valid here: that is why it is shaped per OS.
    const modern = { CommandUUID: 'X', Command: { RequestType: 'InstallEnterpriseApplication', ManifestURL: 'https://x/m.plist', Configuration: {} } };
    expect(validateCommand(modern, { platform: 'macOS', osVersion: '10.15.7', strict: true }).ok).toBe(false);
  });

  it('skips (with an event) a macOS too old for InstallEnterpriseApplication', async () => {
    const mac = await pushable(3, '10.12.6', '16G29');
    await mac.enroll();
    expect(await mac.idle()).toBeUndefined();
    const [skipped] = await eventsOf(t, 'agent.install.skipped', mac.udid);
    expect(skipped!.data).toMatchObject({ reason: 'unsupported-os', osVersion: '10.12.6' });
    expect(t.server.store.getEnrollment(mac.udid)!.agentInstallAttempts).toBe(0);
  });

  it('records the answer: Acknowledged ends the pending install; NotNow keeps it', async () => {
    const mac = await pushable(4);
    await mac.enroll();
    await mac.nextPush();
    const command = (await mac.idle())!;
    expect(await mac.notNow(command.CommandUUID)).toBeUndefined();
    let state = (await api('GET', `/devices/${mac.udid}`)).body.agent.reinstall;
    expect(state).toMatchObject({ pendingCommandUUID: command.CommandUUID, lastOutcome: null });
    expect((await mac.idle())?.CommandUUID).toBe(command.CommandUUID);
    expect(await mac.ack(command.CommandUUID)).toBeUndefined();
    state = (await api('GET', `/devices/${mac.udid}`)).body.agent.reinstall;
    expect(state).toMatchObject({ pendingCommandUUID: null, attempts: 1, lastOutcome: 'Acknowledged', lastOutcomeAt: new Date(t.clock.now()).toISOString() });
    const results = await eventsOf(t, 'agent.install.result', mac.udid);
    expect(results.map((e) => e.data.status)).toEqual(['NotNow', 'Acknowledged']);
    expect(results[0]!.data.pending).toBe(true);
  });

  it('records an Error with its ErrorChain', async () => {
    const mac = await pushable(5);
    await mac.enroll();
    await mac.nextPush();
    const command = (await mac.idle())!;
    const chain = [{ ErrorCode: 12, ErrorDomain: 'MCInstallationErrorDomain', LocalizedDescription: 'The download failed.' }];
    expect(await mac.report(reports.Error({ UDID: mac.udid }, command.CommandUUID, chain), 'InstallEnterpriseApplication')).toBeUndefined();
    expect(t.server.store.getEnrollment(mac.udid)).toMatchObject({ agentInstallPending: undefined, agentInstallLastOutcome: 'Error' });
    const [result] = await eventsOf(t, 'agent.install.result', mac.udid);
    expect(result!.data).toMatchObject({ status: 'Error', errorChain: chain, attempt: 1 });
    expect(result!.summary).toContain('MCInstallationErrorDomain 12');
  });

  it('does nothing on later TokenUpdates, and nothing when installOnEnrollment is off', async () => {
    const mac = await pushable(6);
    await mac.enroll();
    await mac.nextPush();
    expect((await mac.checkin(mac.tokenUpdateMessage())).status).toBe(200);
    expect(t.server.store.queueLength(mac.udid)).toBe(1);
    expect(await eventsOf(t, 'agent.install.queued', mac.udid)).toHaveLength(1);

    const off = await startAgentServer({ agentPolicy: { installOnEnrollment: false } });
    try {
      const quiet = new TestMac(off.http, freshId(7));
      await quiet.enroll();
      expect(await quiet.idle()).toBeUndefined();
    } finally {
      await off.stop();
    }
  });
});

describe('re-enrollment', () => {
  it('queues the install again (attempt 1 of the new enrollment) and keeps the agent history', async () => {
    const mac = await pushable(8);
    await mac.enroll();
    await mac.nextPush();
    const first = (await mac.idle())!;
    await mac.ack(first.CommandUUID);
    expect((await agentCheckin(mac, 'install')).status).toBe(200);
    const heardAt = t.clock.now();
    expect((await api('GET', `/devices/${mac.udid}`)).body.agent.installed).toBe(true);

    // Erased: the Mac installs a new profile and enrolls again with its new identity.
    await t.clock.advance(3_600_000);
    await mac.installProfile();
    await mac.enroll();
    await mac.nextPush();
    const second = (await mac.idle())!;
    expect(second.Command.RequestType).toBe('InstallEnterpriseApplication');
    expect(second.CommandUUID).not.toBe(first.CommandUUID);
    const device = (await api('GET', `/devices/${mac.udid}`)).body;
    // Heard from before this enrollment, not since: false, not null; the history stays.
    expect(device.agent).toMatchObject({ installed: false, lastCheckinAt: new Date(heardAt).toISOString() });
    expect(device.agent.reinstall).toMatchObject({ pendingCommandUUID: second.CommandUUID, attempts: 1, lastOutcome: null });
    await mac.ack(second.CommandUUID);
    expect((await agentCheckin(mac, 'install')).status).toBe(200);
    expect((await api('GET', `/devices/${mac.udid}`)).body.agent.installed).toBe(true);
    expect(await eventsOf(t, 'agent.install.queued', mac.udid)).toHaveLength(2);
  });
});
