/**
 * The main flow once against a server on the SQLite store, over real sockets: a signed Mac
 * enrolls, gets and acknowledges the agent install, the agent checks in, an operator's command
 * is delivered and its result kept, and after a week of agent silence the reinstall rule fires.
 * Then a new server on the same file sees all of it: device, agent history, the pending
 * install, the results and the event log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStorage } from '../../server/storage/sqlite';
import { agentCheckin, apiOf, DAY, eventsOf, freshId, HOUR, PushableMac, startAgentServer } from '../helpers/agent';
import type { TestServer } from '../helpers/server';

const dir = mkdtempSync(join(tmpdir(), 'mdmsim-sqlite-flow-'));
const file = join(dir, 'mdmsim.db');
const servers: TestServer[] = [];
const macs: PushableMac[] = [];

afterAll(async () => {
  for (const m of macs.splice(0)) await m.close();
  for (const s of servers.splice(0)) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a server on the SQLite store', () => {
  it('enrolls, delivers commands, keeps results, fires the reinstall rule, and has it all after a restart', async () => {
    const t = await startAgentServer({ store: new SqliteStorage(file) });
    servers.push(t);
    const api = apiOf(t);
    const mac = await PushableMac.create(t, freshId(1));
    macs.push(mac);

    // Enrollment: the agent install is queued and pushed; the Mac installs it; the agent checks in.
    await mac.enroll();
    await mac.nextPush();
    const install = (await mac.idle())!;
    expect(install.Command.RequestType).toBe('InstallEnterpriseApplication');
    expect(await mac.ack(install.CommandUUID)).toBeUndefined();
    expect((await agentCheckin(mac, 'install')).status).toBe(200);
    const heard = t.clock.now();

    // An operator's command: queued, pushed, delivered, answered, kept.
    const queued = await api('PUT', `/devices/${mac.udid}/commands`, { RequestType: 'DeviceInformation', Queries: ['OSVersion'] });
    expect(queued.status).toBe(201);
    await mac.nextPush();
    const info = (await mac.idle())!;
    expect(info.CommandUUID).toBe(queued.body.CommandUUID);
    expect(await mac.ack(info.CommandUUID, { QueryResponses: { OSVersion: mac.id.osVersion } }, 'DeviceInformation')).toBeUndefined();
    const results = (await api('GET', `/devices/${mac.udid}/commands`)).body;
    expect(results.queue).toEqual([]);
    expect(results.results.map((r: { RequestType: string; Status: string }) => [r.RequestType, r.Status])).toEqual([
      ['InstallEnterpriseApplication', 'Acknowledged'],
      ['DeviceInformation', 'Acknowledged'],
    ]);

    // A week of MDM check-ins without the agent, then an hour: the rule fires and pushes.
    for (let day = 1; day <= 7; day++) {
      await t.clock.advance(DAY);
      expect(await mac.idle()).toBeUndefined();
    }
    await t.clock.advance(HOUR);
    const [fired] = await eventsOf(t, 'agent.reinstall.fired', mac.udid);
    expect(fired).toMatchObject({ data: { reason: 'agent-silent', attempt: 2, lastAgentCheckinAt: new Date(heard).toISOString() } });
    await mac.nextPush();
    const pending = fired!.data.commandUUID as string;
    const before = (await api('GET', `/devices/${mac.udid}`)).body;
    expect(before).toMatchObject({ enabled: true, queued: 1, agent: { version: expect.any(String), reinstall: { attempts: 2, pendingCommandUUID: pending } } });
    const eventsBefore = (await eventsOf(t, 'mdm', mac.udid)).length;
    await mac.close();
    macs.splice(0);
    await t.stop();
    servers.splice(0);

    // A new server on the same file: the same device, queue, results and history.
    const again = await startAgentServer({ store: new SqliteStorage(file) });
    servers.push(again);
    const api2 = apiOf(again);
    const after = (await api2('GET', `/devices/${mac.udid}`)).body;
    expect(after).toEqual(before);
    expect(after.queue.map((q: { CommandUUID: string }) => q.CommandUUID)).toEqual([pending]);
    expect((await api2('GET', `/devices/${mac.udid}/commands`)).body.results).toEqual(results.results);
    expect(await eventsOf(again, 'mdm', mac.udid)).toHaveLength(eventsBefore);
    expect(await eventsOf(again, 'agent.reinstall.fired', mac.udid)).toEqual([fired]);
  });
});
