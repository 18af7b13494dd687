/**
 * The Kandji-compatible device routes over real sockets, against a lab of simulated Macs on the
 * virtual clock: contract shapes pinned field by field, paging to the end, every action as the
 * command the Mac actually receives, DELETE, and agent_installed following the agent.
 */
import { startLab, type Lab } from '../../lab/lab';
import { deviceIdFor } from '../../server/api/device-view';
import { parsePlist } from '../../protocol/plist';
import { openEnrollmentProfile } from '../../protocol/enrollment-profile';
import { PROFILE_IDENTIFIER } from '../../server/enroll/profile';
import { HttpsClient, type HttpResult } from '../helpers/mdm-client';

jest.setTimeout(60_000);

const TOKEN = 'api-devices-test';
const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const SPACED = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let lab: Lab;
let http: HttpsClient;

const api = (method: string, path: string, body?: unknown): Promise<HttpResult & { json: any }> =>
  http.api(method, path, TOKEN, body === undefined ? undefined : JSON.stringify(body));

const idOf = (n: number): string => deviceIdFor(lab.mac(n).udid);
const requestTypesReceived = (n: number): string[] =>
  lab.events({ type: 'mdm.command.delivered', udid: lab.mac(n).udid }).map((e) => String((e.data as { requestType?: string }).requestType));
const deliveredTo = (n: number): Array<{ commandUUID: string; requestType: string }> =>
  lab.events({ type: 'mdm.command.delivered', udid: lab.mac(n).udid }).map((e) => e.data as { commandUUID: string; requestType: string });
/** A command's plist exactly as the server stored (and delivered) it. */
const commandBody = (uuid: string): any => parsePlist(lab.server.store.getCommand(uuid)!.body);

beforeAll(async () => {
  lab = await startLab({ devices: 4, server: { apiToken: TOKEN } });
  http = HttpsClient.for(lab.server);
});
afterAll(() => lab?.stop());

describe('GET /api/v1/devices', () => {
  it('answers a bare array of elements with exactly Kandji\'s fields, types and formats', async () => {
    const r = await api('GET', '/api/v1/devices');
    expect(r.status).toBe(200);
    expect(Array.isArray(r.json)).toBe(true);
    expect(r.json).toHaveLength(4);
    const d = r.json.find((x: any) => x.device_id === idOf(0));
    expect(Object.keys(d).sort()).toEqual(
      [
        'device_id', 'device_name', 'model', 'serial_number', 'platform', 'os_version', 'supplemental_build_version', 'last_check_in', 'user', 'asset_tag',
        'blueprint_id', 'blueprint_name', 'mdm_enabled', 'agent_installed', 'is_missing', 'is_removed', 'agent_version', 'first_enrollment', 'last_enrollment',
        'lost_mode_status', 'tags',
      ].sort(),
    );
    const mac = lab.mac(0);
    expect(d).toMatchObject({ device_name: mac.identity.deviceName, serial_number: mac.identity.serialNumber, platform: 'Mac', os_version: mac.identity.osVersion, user: '', mdm_enabled: true, agent_installed: true, is_missing: false, is_removed: false, tags: [] });
    expect(d.device_id).toMatch(UUID);
    expect(d.model).toMatch(/^(MacBook|Mac mini|iMac)[^,]*\(.*\)$/);
    expect(d.last_check_in).toMatch(ISO_Z);
    expect(d.first_enrollment).toMatch(SPACED);
    expect(d.last_enrollment).toMatch(SPACED);
    expect(d.agent_version).toBe('1.4.2');
    for (const k of ['supplemental_build_version', 'asset_tag', 'blueprint_id', 'blueprint_name', 'lost_mode_status']) expect(typeof d[k]).toBe('string');
    for (const k of ['mdm_enabled', 'agent_installed', 'is_missing', 'is_removed']) expect(typeof d[k]).toBe('boolean');
    expect(d.model).toBe(mac.identity.marketingName);
    expect(r.headers['x-total-count']).toBe('4');
    expect(r.headers['x-total-pages']).toBe('1');
  });

  it('pages to the end with limit=1, answers [] past it, and a client loop stops on []', async () => {
    const seen: string[] = [];
    for (let offset = 0; ; offset++) {
      const r = await api('GET', `/api/v1/devices/?limit=1&offset=${offset}&source=kandji-api-tools`);
      expect(r.status).toBe(200);
      if (r.json.length === 0) break;
      expect(r.json).toHaveLength(1);
      expect(r.headers['x-total-pages']).toBe('4');
      seen.push(r.json[0].device_id);
      expect(offset).toBeLessThan(10);
    }
    expect(new Set(seen).size).toBe(4);
    expect((await api('GET', '/api/v1/devices?offset=300')).json).toEqual([]);
  });

  it('clamps limit to 300 and filters and orders as the fact sheet says', async () => {
    const all = (await api('GET', '/api/v1/devices?limit=100000')).json;
    expect(all).toHaveLength(4);
    const serial = lab.mac(1).identity.serialNumber;
    const bySerial = (await api('GET', `/api/v1/devices?serial_number=${serial.slice(2, 8).toLowerCase()}`)).json;
    expect(bySerial.map((d: any) => d.serial_number)).toContain(serial);
    expect((await api('GET', '/api/v1/devices?platform=iPhone')).json).toEqual([]);
    expect((await api('GET', '/api/v1/devices?platform=Mac')).json).toHaveLength(4);
    expect((await api('GET', '/api/v1/devices?user_email=a@b.c')).json).toEqual([]);
    const names = (await api('GET', '/api/v1/devices?ordering=-device_name')).json.map((d: any) => d.device_name);
    expect(names).toEqual([...names].sort((a: string, b: string) => b.toLowerCase().localeCompare(a.toLowerCase())));
    const serials = (await api('GET', '/api/v1/devices?ordering=serial_number')).json.map((d: any) => d.serial_number);
    expect(serials).toEqual([...serials].sort());
    const byName = (await api('GET', `/api/v1/devices?device_name=${encodeURIComponent(lab.mac(2).identity.deviceName)}`)).json;
    expect(byName.map((d: any) => d.device_id)).toEqual([idOf(2)]);
  });
});

describe('one device', () => {
  it('GET /devices/{id} answers the list element; unknown ids 404 {"detail":"Not found."}', async () => {
    const list = (await api('GET', '/api/v1/devices')).json;
    const one = await api('GET', `/api/v1/devices/${idOf(0)}`);
    expect(one.status).toBe(200);
    expect(one.json).toEqual(list.find((d: any) => d.device_id === idOf(0)));
    const missing = await api('GET', `/api/v1/devices/${deviceIdFor('nope')}/details`);
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ detail: 'Not found.' });
  });

  it('/details: every block, string booleans in mdm and kandji_agent, the three formats, and what the Mac reported', async () => {
    expect((await api('POST', `/api/v1/devices/${idOf(0)}/action/updateinventory`)).status).toBe(200);
    await lab.settle();
    const r = await api('GET', `/api/v1/devices/${idOf(0)}/details`);
    expect(r.status).toBe(200);
    const d = r.json;
    expect(Object.keys(d).sort()).toEqual(
      ['general', 'mdm', 'activation_lock', 'filevault', 'automated_device_enrollment', 'kandji_agent', 'hardware_overview', 'volumes', 'network', 'recovery_information', 'users', 'installed_profiles', 'apple_business_manager', 'security_information', 'lost_mode', 'tags'].sort(),
    );
    expect(d.mdm.mdm_enabled).toBe('True');
    expect(d.mdm.supervised).toMatch(/^(True|False)$/);
    expect(d.mdm.last_check_in).toMatch(SPACED);
    expect(d.kandji_agent).toMatchObject({ agent_installed: 'True', agent_version: '1.4.2' });
    expect(d.kandji_agent.last_check_in).toMatch(ISO_Z);
    expect(d.kandji_agent.install_date).toMatch(ISO_Z);
    expect(d.automated_device_enrollment).toEqual({});
    expect(d.general.device_id).toBe(idOf(0));
    expect(d.hardware_overview.serial_number).toBe(lab.mac(0).identity.serialNumber);
    expect(typeof d.hardware_overview.processor_name).toBe('string');
    expect(d.hardware_overview.processor_name).not.toBe('');
    expect(Array.isArray(d.volumes)).toBe(true);
    expect(d.volumes.length).toBe(1);
    expect(Array.isArray(d.users.system_users)).toBe(true);
    expect(d.users.regular_users.length).toBeGreaterThan(0);
    expect(d.installed_profiles.map((p: any) => p.identifier)).toContain('com.github.mdmsim.enrollment');
    expect(typeof d.filevault.filevault_enabled).toBe('boolean');
  });

  it('/commands: statuses, Kandji field names, error_chain from the device\'s ErrorChain, paging fields', async () => {
    // setname goes out as Settings, which the simulated Mac does not handle: Error 12021.
    expect((await api('POST', `/api/v1/devices/${idOf(1)}/action/setname`, { DeviceName: 'Renamed' })).status).toBe(200);
    await lab.settle();
    const r = await api('GET', `/api/v1/devices/${idOf(1)}/commands`);
    expect(r.status).toBe(200);
    expect(r.json.device_id).toBe(idOf(1));
    expect(Object.keys(r.json.commands).sort()).toEqual(['count', 'next', 'previous', 'results']);
    const results = r.json.commands.results;
    expect(r.json.commands.count).toBe(results.length);
    for (const c of results) {
      expect(Object.keys(c).sort()).toEqual(['attempts', 'command_type', 'date_completed', 'date_requested', 'error_chain', 'last_pushed', 'request_type', 'status', 'uuid'].sort());
      expect([1, 2, 3, 4, 5]).toContain(c.status);
      expect(c.date_requested).toMatch(SPACED);
    }
    const install = results.find((c: any) => c.request_type === 'InstallEnterpriseApplication');
    expect(install).toMatchObject({ status: 3, error_chain: [] });
    expect(install.date_completed).toMatch(SPACED);
    const settings = results.find((c: any) => c.request_type === 'Settings');
    expect(settings.status).toBe(4);
    expect(settings.error_chain[0]).toMatchObject({ code: 12021, domain: 'MCMDMErrorDomain' });
    expect(Object.keys(settings.error_chain[0]).sort()).toEqual(['code', 'domain', 'localized_description', 'us_english_description']);
    const first = await api('GET', `/api/v1/devices/${idOf(1)}/commands?limit=1`);
    expect(first.json.commands.results).toHaveLength(1);
    expect(first.json.commands.next).toMatch(/limit=1&offset=1/);
    expect(first.json.commands.previous).toBeNull();
  });

  it('/activity, /apps, /library-items, /status, /parameters', async () => {
    const activityJson = (await api('GET', `/api/v1/devices/${idOf(0)}/activity`)).json;
    expect(Object.keys(activityJson).sort()).toEqual(['activity', 'device_id']);
    expect(activityJson.device_id).toBe(idOf(0));
    const activity = activityJson.activity;
    expect(Object.keys(activity).sort()).toEqual(['count', 'next', 'previous', 'results']);
    const types = activity.results.map((a: any) => a.action_type);
    expect(types).toContain('enrollment');
    expect(types).toContain('mdm_command_completed');
    for (const a of activity.results) {
      expect(Object.keys(a).sort()).toEqual(['action_type', 'created_at', 'details', 'id']);
      expect(Number.isInteger(a.id)).toBe(true);
      expect(typeof a.action_type).toBe('string');
      expect(a.created_at).toMatch(SPACED);
      expect(typeof a.details.summary).toBe('string');
    }
    const completed = activity.results.find((a: any) => a.action_type === 'mdm_command_completed');
    expect(Object.keys(completed.details).sort()).toEqual(['command_uuid', 'request_type', 'summary']);
    const apps = (await api('GET', `/api/v1/devices/${idOf(0)}/apps`)).json;
    expect(Object.keys(apps).sort()).toEqual(['apps', 'device_id']);
    expect(apps.device_id).toBe(idOf(0));
    expect(apps.apps.map((a: any) => a.bundle_id)).toContain('io.mdmsim.agent');
    for (const a of apps.apps) {
      expect(Object.keys(a).sort()).toEqual(['app_name', 'bundle_id', 'bundle_size', 'creation_date', 'last_opened_date', 'modification_date', 'path', 'source', 'version']);
      for (const k of ['app_name', 'bundle_id', 'path', 'source', 'version']) expect(typeof a[k]).toBe('string');
    }
    const items = (await api('GET', `/api/v1/devices/${idOf(0)}/library-items`)).json;
    expect(Object.keys(items).sort()).toEqual(['device_id', 'library_items']);
    expect(items.library_items).toEqual([expect.objectContaining({ name: 'mdmsim Agent', status: 'PASS', type: 'custom-app', bundle_id: 'io.mdmsim.agent', log: '' })]);
    const item = items.library_items[0];
    expect(Object.keys(item).sort()).toEqual(['blueprint_id', 'blueprint_name', 'bundle_id', 'id', 'log', 'name', 'reported_at', 'status', 'type']);
    expect(item.id).toMatch(UUID);
    expect(item.blueprint_id).toMatch(UUID);
    // An agent report, like kandji_agent's dates: ISO with Z.
    expect(item.reported_at).toMatch(ISO_Z);
    const status = (await api('GET', `/api/v1/devices/${idOf(0)}/status`)).json;
    expect(Object.keys(status).sort()).toEqual(['device_id', 'library_items', 'parameters']);
    expect(status).toMatchObject({ device_id: idOf(0), parameters: [] });
    expect(status.library_items).toEqual(items.library_items);
    expect((await api('GET', `/api/v1/devices/${idOf(0)}/parameters`)).json).toEqual({ device_id: idOf(0), parameters: [] });
  });
});

describe('actions', () => {
  it('each action is the MDM command the Mac receives, with what the action asked for in its body', async () => {
    const cases: Array<[string, string[], unknown?]> = [
      ['updateinventory', ['AvailableOSUpdates', 'DeviceInformation', 'SecurityInfo', 'UserList', 'InstalledApplicationList', 'ProfileList', 'CertificateList']],
      ['reinstallagent', ['InstallEnterpriseApplication']],
      ['renewmdmprofile', ['InstallProfile']],
      ['lock', ['DeviceLock']],
      ['setname', ['Settings'], { DeviceName: 'Kiosk 7' }],
      // Last: the Mac is restarting for a while after it.
      ['restart', ['RestartDevice']],
    ];
    const received: Record<string, { answer: any; commands: any[] }> = {};
    for (const [action, expected, body] of cases) {
      await lab.advance('1m');
      const before = deliveredTo(2).length;
      const r = await api('POST', `/api/v1/devices/${idOf(2)}/action/${action}`, body);
      expect([action, r.status]).toEqual([action, 200]);
      await lab.settle();
      const delivered = deliveredTo(2).slice(before);
      expect([action, delivered.map((d) => d.requestType)]).toEqual([action, expected]);
      received[action] = { answer: r.json, commands: delivered.map((d) => commandBody(d.commandUUID)) };
    }
    // lock: the PIN answered is the PIN the Mac was sent.
    expect(received.lock!.answer).toEqual({ PIN: expect.stringMatching(/^\d{6}$/) });
    expect(received.lock!.commands[0].Command).toEqual({ RequestType: 'DeviceLock', PIN: received.lock!.answer.PIN });
    // setname: the name sent is the name in the Settings item.
    expect(received.setname!.commands[0].Command).toEqual({ RequestType: 'Settings', Settings: [{ Item: 'DeviceName', DeviceName: 'Kiosk 7' }] });
    // reinstallagent: the agent's package manifest.
    expect(received.reinstallagent!.commands[0].Command).toMatchObject({ RequestType: 'InstallEnterpriseApplication', ManifestURL: expect.stringMatching(/^https:\/\//) });
    // renewmdmprofile: a fresh enrollment profile signed by the server, same identifier, same MDM server, a new identity.
    const payload = received.renewmdmprofile!.commands[0].Command.Payload as Buffer;
    expect(Buffer.isBuffer(payload)).toBe(true);
    const renewed = openEnrollmentProfile(payload, { trustedCaCerts: [http.caCertDer] });
    expect(renewed.profile.PayloadIdentifier).toBe(PROFILE_IDENTIFIER);
    expect(renewed.mdm.ServerURL).toBe(`${lab.server.info.deviceUrls.mdm}/connect`);
    expect(renewed.mdm.Topic).toBe(lab.device(2)!.topic);
    expect(lab.events({ type: 'mdm.command.result', udid: lab.mac(2).udid }).find((e) => (e.data as any).requestType === 'InstallProfile')!.data).toMatchObject({ status: 'Acknowledged' });
  });

  it('blankpush pushes without a command; shutdown sends ShutDownDevice', async () => {
    const pushes = lab.events({ type: 'mdm.push.sent', udid: lab.mac(3).udid }).length;
    const before = requestTypesReceived(3).length;
    expect((await api('POST', `/api/v1/devices/${idOf(3)}/action/blankpush`)).status).toBe(200);
    await lab.settle();
    expect(lab.events({ type: 'mdm.push.sent', udid: lab.mac(3).udid }).length).toBe(pushes + 1);
    expect(requestTypesReceived(3).length).toBe(before);
    expect((await api('POST', `/api/v1/devices/${idOf(3)}/action/shutdown`)).status).toBe(200);
    await lab.settle();
    expect(requestTypesReceived(3).slice(before)).toEqual(['ShutDownDevice']);
  });

  it('a second identical pending command answers 400 "Command already running"', async () => {
    await lab.fault(0, { kind: 'offline', for: '1h' });
    expect((await api('POST', `/api/v1/devices/${idOf(0)}/action/restart`)).status).toBe(200);
    const again = await api('POST', `/api/v1/devices/${idOf(0)}/action/restart`);
    expect(again.status).toBe(400);
    expect(again.json).toBe('Command already running');
    const setname = await api('POST', `/api/v1/devices/${idOf(0)}/action/setname`, {});
    expect(setname.status).toBe(400);
    expect(setname.json).toEqual({ DeviceName: ['This field is required.'] });
    await lab.advance('2h');
  });
});

describe('agent_installed and DELETE', () => {
  it('turns false when the inventory reports the agent gone, and true again once it is reinstalled', async () => {
    await lab.fault(1, { kind: 'agent-uninstalled' });
    expect((await api('GET', `/api/v1/devices/${idOf(1)}`)).json.agent_installed).toBe(true);
    expect((await api('POST', `/api/v1/devices/${idOf(1)}/action/updateinventory`)).status).toBe(200);
    await lab.settle();
    expect(lab.events({ type: 'agent.gone', udid: lab.mac(1).udid })).toHaveLength(1);
    const gone = (await api('GET', `/api/v1/devices/${idOf(1)}`)).json;
    expect(gone).toMatchObject({ agent_installed: false, agent_version: '' });
    // Freshness is separate: last_check_in still says when the agent was last heard.
    expect(gone.last_check_in).toMatch(ISO_Z);
    expect((await api('GET', `/api/v1/devices/${idOf(1)}/details`)).json.kandji_agent.agent_installed).toBe('False');
    expect((await api('POST', `/api/v1/devices/${idOf(1)}/action/reinstallagent`)).status).toBe(200);
    await lab.settle();
    expect((await api('GET', `/api/v1/devices/${idOf(1)}`)).json.agent_installed).toBe(true);
  });

  it('is_missing once no check-in of any kind for the missingAfter setting', async () => {
    // Mac 3 was shut down above, hours ago: neither MDM nor its agent checks in.
    expect((await api('GET', `/api/v1/devices/${idOf(3)}`)).json.is_missing).toBe(false);
    lab.server.agentPolicy.update({ missingAfter: '1h' });
    try {
      expect((await api('GET', `/api/v1/devices/${idOf(3)}`)).json.is_missing).toBe(true);
      expect((await api('GET', `/api/v1/devices/${idOf(1)}`)).json.is_missing).toBe(false);
    } finally {
      lab.server.agentPolicy.update({ missingAfter: '30d' });
    }
    expect((await api('GET', `/api/v1/devices/${idOf(3)}`)).json.is_missing).toBe(false);
  });

  it('DELETE answers 204; the agent uninstalls at its next check-in, then MDM is removed (RemoveProfile, CheckOut)', async () => {
    const mac = lab.mac(0);
    await lab.advance('20m');
    const r = await api('DELETE', `/api/v1/devices/${idOf(0)}`);
    expect(r.status).toBe(204);
    const d = (await api('GET', `/api/v1/devices/${idOf(0)}`)).json;
    expect(d).toMatchObject({ is_removed: true, agent_installed: false });
    expect(mac.state.agent.installed).toBe(true);
    expect((await api('POST', `/api/v1/devices/${idOf(0)}/action/restart`)).json).toBe('Command is not allowed for current device');
    await lab.advance('16m');
    expect(lab.events({ type: 'agent.uninstall.requested', udid: mac.udid })).toHaveLength(1);
    expect(mac.state.agent.installed).toBe(false);
    expect(requestTypesReceived(0).at(-1)).toBe('RemoveProfile');
    expect(lab.events({ type: 'mdm.checkin', udid: mac.udid }).some((e) => (e.data as { messageType?: string }).messageType === 'CheckOut')).toBe(true);
    expect((await api('GET', `/api/v1/devices/${idOf(0)}`)).json).toMatchObject({ is_removed: true, mdm_enabled: false, agent_installed: false });
  });
});
