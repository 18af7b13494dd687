/**
 * The /sim/v1 control API over HTTPS: bearer auth, clock, enqueue (plist and JSON), events,
 * and the WebSocket event stream.
 */
import WebSocket from 'ws';
import { commands } from '../../protocol/command';
import { buildPlist, parsePlist } from '../../protocol/plist';
import { TestMac } from '../helpers/mdm-client';
import { startTestServer, T0, type TestServer } from '../helpers/server';
import { POLICIES_OFF } from '../helpers/agent';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer(POLICIES_OFF);
});
afterAll(() => t.stop());

const api = (method: string, path: string, body?: unknown, contentType?: string) => t.http.api(method, `/sim/v1${path}`, t.token, body, contentType);

describe('authentication', () => {
  it.each([
    ['GET', '/sim/v1/clock'],
    ['POST', '/sim/v1/clock/advance'],
    ['PUT', '/sim/v1/devices/X/commands'],
    ['GET', '/sim/v1/events'],
    ['GET', '/sim/v1/devices'],
  ])('%s %s needs the bearer token', async (method, path) => {
    const none = await t.http.send(method, path);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/Bearer/);
    expect(JSON.parse(none.body.toString()).error.code).toBe('unauthorized');
    const wrong = await t.http.api(method, path, 'not-the-token');
    expect(wrong.status).toBe(401);
  });
});

describe('clock', () => {
  it('reads the virtual clock', async () => {
    const r = await api('GET', '/clock');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ now: new Date(t.clock.now()).toISOString(), mode: 'virtual' });
  });

  it.each([
    ['15m', 15 * 60_000],
    ['36h', 36 * 3600_000],
    ['8d', 8 * 86400_000],
    ['P8D', 8 * 86400_000],
  ])('advances by %s', async (by, ms) => {
    const before = t.clock.now();
    const r = await api('POST', '/clock/advance', { by });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ now: new Date(before + ms).toISOString(), mode: 'virtual', from: new Date(before).toISOString(), advancedMs: ms });
    expect(t.clock.now()).toBe(before + ms);
  });

  it('runs timers that fall due, in time order, at their own instants', async () => {
    const base = t.clock.now();
    const seen: number[] = [];
    t.clock.setTimer(2 * 3600_000, () => void seen.push(t.clock.now() - base));
    t.clock.setTimer(3600_000, () => void seen.push(t.clock.now() - base));
    const r = await api('POST', '/clock/advance', { by: '3h' });
    expect(r.json.timersRun).toBe(2);
    expect(seen).toEqual([3600_000, 2 * 3600_000]);
  });

  it('rejects a bad duration with an example', async () => {
    const r = await api('POST', '/clock/advance', { by: 'soon' });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'bad-duration', field: 'by' });
    expect(r.json.error.message).toMatch(/8d/);
    expect((await api('POST', '/clock/advance', {})).json.error.code).toBe('missing-duration');
  });

  it('answers 409 in real mode', async () => {
    const real = await startTestServer({ ...POLICIES_OFF, clock: 'real' });
    try {
      const r = await real.http.api('POST', '/sim/v1/clock/advance', real.token, { by: '1d' });
      expect(r.status).toBe(409);
      expect(r.json.error.code).toBe('real-clock');
      expect((await real.http.api('GET', '/sim/v1/clock', real.token)).json.mode).toBe('real');
    } finally {
      await real.stop();
    }
  });
});

describe('enqueue', () => {
  it('takes a raw command plist and answers the CommandUUID; the device gets it', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    const cmd = commands.DeviceInformation({ Queries: ['SerialNumber'] });
    const r = await api('PUT', `/devices/${mac.udid}/commands?push=false`, buildPlist(cmd as never), 'application/x-apple-plist');
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ CommandUUID: cmd.CommandUUID, RequestType: 'DeviceInformation', queued: [mac.udid], push: { requested: false } });
    expect(await mac.idle()).toEqual(cmd);
  });

  it('takes JSON with just a RequestType, generating a CommandUUID, with $data for <data>', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    const profile = Buffer.from('<plist>profile</plist>');
    const r = await api('PUT', `/devices/${mac.udid}/commands`, { RequestType: 'InstallProfile', Payload: { $data: profile.toString('base64') } });
    expect(r.status).toBe(201);
    expect(r.json.CommandUUID).toMatch(/^[0-9A-F-]{36}$/);
    const got = await mac.idle();
    expect(got!.CommandUUID).toBe(r.json.CommandUUID);
    expect(got!.Command).toEqual({ RequestType: 'InstallProfile', Payload: profile });
  });

  it('enqueues one command to many devices (comma list and POST /commands)', async () => {
    const macs = [new TestMac(t.http), new TestMac(t.http), new TestMac(t.http)];
    for (const m of macs) await m.enroll();
    const r1 = await api('PUT', `/devices/${macs.map((m) => m.udid).join(',')}/commands`, { RequestType: 'ProfileList' });
    expect(r1.json.queued).toEqual(macs.map((m) => m.udid));
    const r2 = await api('POST', '/commands', { udids: macs.map((m) => m.udid), command: { RequestType: 'SecurityInfo' } });
    expect(r2.status).toBe(201);
    for (const m of macs) {
      expect((await m.idle())!.CommandUUID).toBe(r1.json.CommandUUID);
      expect((await m.ack(r1.json.CommandUUID, { ProfileList: [] }, 'ProfileList'))!.CommandUUID).toBe(r2.json.CommandUUID);
    }
  });

  it('rejects a duplicate CommandUUID with 409', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    const body = { CommandUUID: 'API-DUP', Command: { RequestType: 'ProfileList' } };
    expect((await api('PUT', `/devices/${mac.udid}/commands`, body)).status).toBe(201);
    const r = await api('PUT', `/devices/${mac.udid}/commands`, body);
    expect(r.status).toBe(409);
    expect(r.json.error).toMatchObject({ code: 'duplicate-command-uuid', field: 'CommandUUID' });
  });

  it('reports unknown devices per device, 404 when none is known', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    const some = await api('PUT', `/devices/${mac.udid},NOPE/commands`, { RequestType: 'ProfileList' });
    expect(some.status).toBe(201);
    expect(some.json.rejected.NOPE).toMatchObject({ code: 'unknown-enrollment' });
    const none = await api('PUT', '/devices/NOPE/commands', { RequestType: 'ProfileList' });
    expect(none.status).toBe(404);
  });

  it('refuses to queue for a device that checked out or is re-authenticating (409)', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    await mac.checkin(mac.authenticateMessage());
    const r = await api('PUT', `/devices/${mac.udid}/commands`, { RequestType: 'ProfileList' });
    expect(r.status).toBe(409);
    expect(r.json.rejected[mac.udid]).toMatchObject({ code: 'enrollment-disabled' });
    expect(t.server.store.queueLength(mac.udid)).toBe(0);
  });

  it('explains malformed commands', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    expect((await api('PUT', `/devices/${mac.udid}/commands`, { Command: {} })).json.error).toMatchObject({ code: 'missing-request-type', field: 'Command.RequestType' });
    expect((await api('PUT', `/devices/${mac.udid}/commands`, '<plist><dict>', 'application/xml')).json.error.code).toBe('malformed-plist');
    expect((await api('PUT', `/devices/${mac.udid}/commands`, '{"RequestType":', 'application/json')).json.error.code).toBe('malformed-json');
    expect((await api('PUT', `/devices/${mac.udid}/commands`, 'hello', 'text/plain')).status).toBe(415);
    expect((await api('PUT', `/devices/${mac.udid}/commands`, { RequestType: 'X', Bad: null })).json.error).toMatchObject({ code: 'null-value', field: 'Bad' });
  });

  it('queues a command that fails Apple\'s schema, with warnings, so CommandFormatError can be tested', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    const r = await api('PUT', `/devices/${mac.udid}/commands`, { RequestType: 'RemoveProfile' });
    expect(r.status).toBe(201);
    expect(r.json.warnings).toEqual([expect.objectContaining({ code: 'missing', path: expect.stringContaining('Identifier') })]);
  });

  it('shows queue and results for a device and a command', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    const cmd = commands.ProfileList();
    await api('PUT', `/devices/${mac.udid}/commands`, cmd);
    let r = await api('GET', `/devices/${mac.udid}/commands`);
    expect(r.json.queue).toEqual([expect.objectContaining({ CommandUUID: cmd.CommandUUID, status: 'queued' })]);
    await mac.idle();
    await mac.ack(cmd.CommandUUID, { ProfileList: [] }, 'ProfileList');
    r = await api('GET', `/commands/${cmd.CommandUUID}`);
    expect(r.json).toMatchObject({ CommandUUID: cmd.CommandUUID, RequestType: 'ProfileList', command: { Command: { RequestType: 'ProfileList' } } });
    expect(r.json.results).toEqual([expect.objectContaining({ udid: mac.udid, Status: 'Acknowledged', report: expect.objectContaining({ ProfileList: [] }) })]);
    expect(parsePlist(Buffer.from(r.json.results[0].raw))).toMatchObject({ Status: 'Acknowledged' });
    const d = await api('GET', `/devices/${mac.udid}`);
    expect(d.json).toMatchObject({ udid: mac.udid, enabled: true, tokenUpdateTally: 1, platform: 'macOS', queued: 0, queue: [] });
  });
});

describe('events', () => {
  it('filters by since (cursor or time), type prefix and udid, with clock timestamps', async () => {
    const mac = new TestMac(t.http);
    const start = (await api('GET', '/events?limit=10000')).json.next ?? 0;
    await mac.enroll();
    const cmd = commands.ProfileList();
    t.server.service.enqueue([mac.udid], cmd);
    await mac.idle();
    await mac.ack(cmd.CommandUUID, { ProfileList: [] }, 'ProfileList');

    const all = await api('GET', `/events?udid=${mac.udid}`);
    expect(all.json.events.map((e: any) => e.type)).toEqual([
      'mdm.checkin',
      'mdm.checkin',
      'mdm.command.queued',
      'mdm.connect.idle',
      'mdm.command.delivered',
      'mdm.command.result',
      'mdm.connect.empty',
    ]);
    for (const e of all.json.events) expect(e.time).toBe(new Date(t.clock.now()).toISOString());
    expect(all.json.events[0]).toMatchObject({ from: 'device', to: 'mdm', direction: 'inbound', udid: mac.udid });
    expect(all.json.events[4]).toMatchObject({ from: 'mdm', to: 'device', direction: 'outbound', data: { commandUUID: cmd.CommandUUID } });

    const commandsOnly = await api('GET', `/events?udid=${mac.udid}&type=mdm.command`);
    expect(commandsOnly.json.events.map((e: any) => e.type)).toEqual(['mdm.command.queued', 'mdm.command.delivered', 'mdm.command.result']);
    const after = await api('GET', `/events?since=${all.json.events[3].id}&udid=${mac.udid}`);
    expect(after.json.events).toHaveLength(3);
    const byTime = await api('GET', `/events?since=${encodeURIComponent(new Date(t.clock.now()).toISOString())}&udid=${mac.udid}`);
    expect(byTime.json.events).toHaveLength(7);
    expect((await api('GET', `/events?since=${start}&limit=2`)).json.events).toHaveLength(2);
    expect((await api('GET', '/events?since=yesterday')).json.error.code).toBe('bad-parameter');
  });

  it('streams events over WebSocket, with a backlog from since', async () => {
    const ca = t.http.agent.options.ca;
    const url = `${t.server.url.replace('https', 'wss')}/sim/v1/events/stream?type=mdm.checkin`;
    const denied = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { ca });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
      ws.on('error', () => undefined);
    });
    expect(denied).toBe(401);

    const received: any[] = [];
    const ws = new WebSocket(`${url}&token=${t.token}`, { ca });
    await new Promise((resolve) => ws.on('open', resolve));
    ws.on('message', (m) => received.push(JSON.parse(m.toString())));
    const mac = new TestMac(t.http);
    await mac.enroll();
    await mac.idle();
    await new Promise((r) => setTimeout(r, 100));
    const mine = received.filter((e) => e.udid === mac.udid);
    expect(mine.map((e) => e.data.messageType)).toEqual(['Authenticate', 'TokenUpdate']);
    expect(received.every((e) => e.type === 'mdm.checkin')).toBe(true);
    ws.close();

    // Live events are filtered by the server: another device's exchanges never arrive.
    const onlyMine: any[] = [];
    const ws1 = new WebSocket(`${t.server.url.replace('https', 'wss')}/sim/v1/events/stream?udid=${mac.udid}&token=${t.token}`, { ca });
    ws1.on('message', (m) => onlyMine.push(JSON.parse(m.toString())));
    await new Promise((resolve) => ws1.on('open', resolve));
    const stranger = new TestMac(t.http);
    await stranger.enroll();
    await mac.idle();
    await new Promise((r) => setTimeout(r, 100));
    expect(onlyMine.length).toBeGreaterThan(0);
    expect(onlyMine.every((e) => e.udid === mac.udid)).toBe(true);
    ws1.close();

    const backlog: any[] = [];
    const ws2 = new WebSocket(`${t.server.url.replace('https', 'wss')}/sim/v1/events/stream?since=0&udid=${mac.udid}`, { ca, headers: { authorization: `Bearer ${t.token}` } });
    ws2.on('message', (m) => backlog.push(JSON.parse(m.toString())));
    await new Promise((resolve) => ws2.on('open', resolve));
    await new Promise((r) => setTimeout(r, 100));
    expect(backlog.map((e) => e.type)).toEqual(['mdm.checkin', 'mdm.checkin', 'mdm.connect.idle', 'mdm.connect.empty', 'mdm.connect.idle', 'mdm.connect.empty']);
    ws2.close();
  });
});

it('the server clock starts where the test put it', () => {
  expect(t.clock.now()).toBeGreaterThanOrEqual(T0);
});

it('stop() ends open event streams instead of waiting for them', async () => {
  const other = await startTestServer(POLICIES_OFF);
  const ws = new WebSocket(`${other.server.url.replace('https', 'wss')}/sim/v1/events/stream?token=${other.token}`, { ca: other.http.agent.options.ca });
  await new Promise((resolve) => ws.on('open', resolve));
  const closed = new Promise((resolve) => ws.on('close', resolve));
  const stopped = other.stop().then(() => 'stopped');
  const timeout = new Promise((resolve) => setTimeout(() => resolve('still waiting'), 3000));
  expect(await Promise.race([stopped, timeout])).toBe('stopped');
  await closed;
});
