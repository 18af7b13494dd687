/**
 * What a device's life does to the Kandji-compatible API, over real sockets against a lab on the
 * virtual clock: DELETE (twice), EraseDevice, and the Mac enrolling again after either. The
 * agent that uninstalled itself or was wiped must not come back as `agent_installed: true` with
 * the re-enrollment: a posture sync would let that Mac in.
 */
import { startLab, type Lab } from '../../lab/lab';
import { deviceIdFor } from '../../server/api/device-view';
import { commands } from '../../protocol/command';
import { parsePlist } from '../../protocol/plist';
import { PROFILE_IDENTIFIER } from '../../server/enroll/profile';
import { seedDevices } from '../../bench/lib/seed-devices';
import { HttpsClient, type HttpResult } from '../helpers/mdm-client';

jest.setTimeout(60_000);

const TOKEN = 'api-lifecycle-test';

let lab: Lab;
let http: HttpsClient;

const api = (method: string, path: string, body?: unknown): Promise<HttpResult & { json: any }> =>
  http.api(method, path, TOKEN, body === undefined ? undefined : JSON.stringify(body));

const idOf = (n: number): string => deviceIdFor(lab.mac(n).udid);
const device = async (n: number): Promise<any> => (await api('GET', `/api/v1/devices/${idOf(n)}`)).json;
const prism = async (n: number): Promise<any> => {
  const filter = encodeURIComponent(JSON.stringify({ serial_number: { eq: lab.mac(n).identity.serialNumber } }));
  return (await api('GET', `/api/v1/prism/device_information?filter=${filter}`)).json.data[0];
};
/** The body of a command as the server stored it (and sent it). */
const commandBody = (uuid: string): any => parsePlist(lab.server.store.getCommand(uuid)!.body) as any;
const queuedOf = (n: number, requestType: string) => lab.server.store.listQueue(lab.mac(n).udid).filter((q) => q.requestType === requestType);

beforeAll(async () => {
  lab = await startLab({ devices: 3, server: { apiToken: TOKEN } });
  http = HttpsClient.for(lab.server);
  await lab.advance('20m');
});
afterAll(() => lab?.stop());

describe('DELETE, then the Mac enrolls again', () => {
  it('the agent that uninstalled itself is gone: agent_installed stays false after the re-enrollment, until the agent is back', async () => {
    const mac = lab.mac(0);
    expect((await device(0)).agent_installed).toBe(true);
    expect((await api('DELETE', `/api/v1/devices/${idOf(0)}`)).status).toBe(204);
    await lab.advance('16m');
    expect(mac.state.agent.installed).toBe(false);
    expect(lab.events({ type: 'agent.gone', udid: mac.udid })).toHaveLength(1);
    expect(lab.server.store.getEnrollment(mac.udid)!.enabled).toBe(false);

    // The enrollment's agent install fails, so nothing puts the agent back.
    await lab.fault(0, { kind: 'package-download', mode: 'fail' });
    await mac.enroll();
    await lab.settle();
    expect(lab.events({ type: 'agent.install.result', udid: mac.udid }).at(-1)!.data).toMatchObject({ status: 'Error' });
    const again = await device(0);
    expect(again).toMatchObject({ is_removed: false, mdm_enabled: true, agent_installed: false, agent_version: '' });
    expect((await api('GET', `/api/v1/devices/${idOf(0)}/details`)).json.kandji_agent.agent_installed).toBe('False');
    expect(await prism(0)).toMatchObject({ mdm_enabled: true, agent_installed: false, agent_version: null });

    // A working install brings it back.
    await lab.clearFaults(0);
    await lab.advance('2h');
    expect((await api('POST', `/api/v1/devices/${idOf(0)}/action/reinstallagent`)).status).toBe(200);
    await lab.settle();
    expect(mac.state.agent.installed).toBe(true);
    expect((await device(0)).agent_installed).toBe(true);
  });

  it('a second DELETE answers 204 and changes nothing: no second RemoveProfile, activity or removal time', async () => {
    const mac = lab.mac(1);
    // Offline: RemoveProfiles stay queued. An operator already queued the enrollment profile's.
    await lab.fault(1, { kind: 'offline', for: '1h' });
    const operators = await lab.command(1, commands.RemoveProfile({ Identifier: PROFILE_IDENTIFIER }));
    expect((await api('DELETE', `/api/v1/devices/${idOf(1)}`)).status).toBe(204);
    const removedAt = lab.server.store.getEnrollment(mac.udid)!.removedAt;
    expect(removedAt).toBeDefined();
    expect(queuedOf(1, 'RemoveProfile').map((q) => q.commandUUID)).toEqual([operators]);
    expect(lab.events({ type: 'api.device.deleted', udid: mac.udid })[0]!.data).toMatchObject({ removeProfile: operators });
    await lab.advance('1m');
    const eventsBefore = lab.events({ udid: mac.udid }).length;
    const second = await api('DELETE', `/api/v1/devices/${idOf(1)}/`);
    expect(second.status).toBe(204);
    expect(second.body.length).toBe(0);
    expect(lab.server.store.getEnrollment(mac.udid)!.removedAt).toBe(removedAt);
    expect(queuedOf(1, 'RemoveProfile')).toHaveLength(1);
    expect(lab.events({ udid: mac.udid }).length).toBe(eventsBefore);
    const activity = (await api('GET', `/api/v1/devices/${idOf(1)}/activity`)).json.activity.results;
    expect(activity.filter((a: any) => a.action_type === 'device_deleted')).toHaveLength(1);
  });
});

describe('erase', () => {
  it('sends EraseDevice with a 6-digit PIN; once acknowledged the agent is gone, and stays gone when the wiped Mac enrolls again', async () => {
    const mac = lab.mac(2);
    expect((await device(2)).agent_installed).toBe(true);
    const r = await api('POST', `/api/v1/devices/${idOf(2)}/action/erase`);
    expect(r.status).toBe(200);
    const queued = queuedOf(2, 'EraseDevice');
    expect(queued).toHaveLength(1);
    const body = commandBody(queued[0]!.commandUUID);
    expect(body.Command).toEqual({ RequestType: 'EraseDevice', PIN: expect.stringMatching(/^\d{6}$/) });
    expect(body.CommandUUID).toBe(queued[0]!.commandUUID);
    await lab.settle();
    const result = lab.events({ type: 'mdm.command.result', udid: mac.udid }).at(-1)!;
    expect(result.data).toMatchObject({ commandUUID: queued[0]!.commandUUID, requestType: 'EraseDevice', status: 'Acknowledged' });
    expect(mac.enrolled).toBe(false);
    expect(lab.events({ type: 'agent.gone', udid: mac.udid })).toHaveLength(1);
    expect(await device(2)).toMatchObject({ agent_installed: false, agent_version: '' });

    await lab.fault(2, { kind: 'package-download', mode: 'fail' });
    await mac.enroll();
    await lab.settle();
    expect(await device(2)).toMatchObject({ is_removed: false, mdm_enabled: true, agent_installed: false });
    expect(await prism(2)).toMatchObject({ agent_installed: false });
  });
});

describe('"Command is not allowed for current device"', () => {
  it('for an action not for the platform (reinstallagent on an iPhone) and for a device whose MDM is not enabled', async () => {
    const [iphone] = seedDevices(lab.server.store, 1, lab.now(), { first: 9 });
    expect(iphone!.platform).toBe('iOS');
    const onIphone = await api('POST', `/api/v1/devices/${deviceIdFor(iphone!.udid)}/action/reinstallagent`);
    expect(onIphone.status).toBe(400);
    expect(onIphone.json).toBe('Command is not allowed for current device');
    expect(lab.server.store.listQueue(iphone!.udid)).toEqual([]);

    // Mac 2 checks out (its profile removed by hand): not deleted, but MDM is gone.
    await lab.mac(2).unenroll();
    expect(await device(2)).toMatchObject({ is_removed: false, mdm_enabled: false });
    for (const action of ['restart', 'blankpush', 'reinstallagent']) {
      const r = await api('POST', `/api/v1/devices/${idOf(2)}/action/${action}`);
      expect([action, r.status, r.json]).toEqual([action, 400, 'Command is not allowed for current device']);
    }
    expect(lab.server.store.listQueue(lab.mac(2).udid)).toEqual([]);
  });
});
