/**
 * The daily MDM inventory: one fleet timer queues a DeviceInformation (valid for each Mac's
 * macOS) and an InstalledApplicationList, and pushes, once per interval per enrollment, never
 * twice while one is pending.
 */
import type { PlistDict } from '../../protocol/plist/types';
import { validateCommand } from '../../protocol/schema';
import { INVENTORY_QUERIES } from '../../server/policy/commands';
import { DAY, eventsOf, freshId, HOUR, PushableMac, startAgentServer } from '../helpers/agent';
import type { TestServer } from '../helpers/server';

let t: TestServer;
const macs: PushableMac[] = [];

beforeAll(async () => {
  t = await startAgentServer({ agentPolicy: { inventoryInterval: '1d', installOnEnrollment: false, reinstall: false } });
});
afterAll(async () => {
  for (const m of macs) await m.close();
  await t?.stop();
});

it('queues one DeviceInformation per Mac per day, pushes it, and never a second while one is pending', async () => {
  const start = t.clock.now();
  const a = await PushableMac.create(t, freshId(1));
  const b = await PushableMac.create(t, freshId(2, { osVersion: '10.15.7', build: '19H2' }));
  macs.push(a, b);
  await a.enroll();
  await t.clock.advance(2 * HOUR);
  await b.enroll();
  expect(await eventsOf(t, 'mdm.inventory.queued')).toEqual([]);

  // A's first inventory is due a day after it enrolled; B's two hours later.
  await t.clock.advance(DAY - HOUR);
  let queued = await eventsOf(t, 'mdm.inventory.queued');
  expect(queued.map((e) => [e.udid, Date.parse(e.time) - start])).toEqual([[a.udid, DAY]]);
  await a.nextPush();
  const cmdA = (await a.idle())!;
  expect(cmdA.Command.RequestType).toBe('DeviceInformation');
  expect(cmdA.Command.Queries).toEqual(INVENTORY_QUERIES);

  await t.clock.advance(2 * HOUR);
  queued = await eventsOf(t, 'mdm.inventory.queued');
  expect(queued.map((e) => [e.udid, Date.parse(e.time) - start])).toEqual([
    [a.udid, DAY],
    [b.udid, DAY + 2 * HOUR],
  ]);
  await b.nextPush();
  const cmdB = (await b.idle())!;
  // Only what macOS 10.15 knows (IsAppleSilicon is 12+, the Supplemental keys 13+), strictly valid there.
  expect(cmdB.Command.Queries).not.toContain('IsAppleSilicon');
  expect(cmdB.Command.Queries).not.toContain('SupplementalBuildVersion');
  expect(cmdB.Command.Queries).toContain('SerialNumber');
  expect(validateCommand(cmdB as unknown as PlistDict, { platform: 'macOS', osVersion: '10.15.7', strict: true }).ok).toBe(true);

  // A answers; B says NotNow. A day later A gets the next one; B's is still pending, so it is
  // not queued twice: B is only pushed again, and this time it answers.
  await a.ack(cmdA.CommandUUID, { QueryResponses: { SerialNumber: a.id.serial } }, 'DeviceInformation');
  // The cycle's second command: the app list that says whether the agent is still there.
  const appsB = (await b.notNow(cmdB.CommandUUID))!;
  expect(appsB.Command).toEqual({ RequestType: 'InstalledApplicationList' });
  expect(await b.notNow(appsB.CommandUUID)).toBeUndefined();
  await t.clock.advance(DAY);
  queued = await eventsOf(t, 'mdm.inventory.queued');
  expect(queued.map((e) => e.udid)).toEqual([a.udid, b.udid, a.udid]);
  // Neither of B's pending commands was queued twice.
  expect(t.server.store.listQueue(b.udid).map((q) => q.commandUUID)).toEqual([cmdB.CommandUUID, appsB.CommandUUID]);
  await a.nextPush();
  const [repushed] = await eventsOf(t, 'mdm.inventory.repushed', b.udid);
  expect(repushed!.data.commandUUID).toBe(cmdB.CommandUUID);
  await b.nextPush();
  expect((await b.idle())?.CommandUUID).toBe(cmdB.CommandUUID);

  // B finally answers: its next inventory comes at its next slot.
  await b.ack(cmdB.CommandUUID, { QueryResponses: {} }, 'DeviceInformation');
  await t.clock.advance(DAY);
  queued = await eventsOf(t, 'mdm.inventory.queued');
  expect(queued.filter((e) => e.udid === b.udid)).toHaveLength(2);
});

it('stops when the interval is set to false', async () => {
  const before = (await eventsOf(t, 'mdm.inventory.queued')).length;
  t.server.agentPolicy.update({ inventoryInterval: false });
  await t.clock.advance(3 * DAY);
  expect(await eventsOf(t, 'mdm.inventory.queued')).toHaveLength(before);
});
