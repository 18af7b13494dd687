/**
 * Check-in semantics over HTTPS, and the real device captures from NanoMDM's test data.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKIN_CONTENT_TYPE } from '../../protocol/checkin';
import { COMMAND_CONTENT_TYPE, commands } from '../../protocol/command';
import { buildPlist, parsePlist } from '../../protocol/plist';
import { Keyring, TestMac } from '../helpers/mdm-client';
import { startTestServer, T0, type TestServer } from '../helpers/server';

const captures = join(__dirname, '../../fixtures/captures/nanomdm');
const capture = (name: string) => readFileSync(join(captures, name));

let t: TestServer;
let keys: Keyring;
beforeAll(async () => {
  t = await startTestServer();
  // The captures are replayed as signed by an identity from this server, one per device.
  keys = new Keyring(t.http);
});
afterAll(() => t.stop());

const putCheckin = async (body: Buffer | string) => t.http.send('PUT', '/mdm/checkin', body, { 'content-type': CHECKIN_CONTENT_TYPE, ...(await keys.headersFor(body)) });
const putConnect = async (body: Buffer | string) => t.http.send('PUT', '/mdm/connect', body, { 'content-type': COMMAND_CONTENT_TYPE, ...(await keys.headersFor(body)) });

describe('real device captures', () => {
  it('accepts the macOS 10.12 Authenticate and TokenUpdate, then the DeviceInformation result', async () => {
    expect((await putCheckin(capture('mdm_testdata_Authenticate.2.plist'))).status).toBe(200);
    const udid = '66ADE930-5FDF-5EC4-8429-15640684C489';
    expect(t.server.store.getEnrollment(udid)).toMatchObject({ platform: 'macOS', osVersion: '10.12.6', serialNumber: 'C02MT66KFLHH', productName: 'iMac14,2', enabled: false });
    expect((await putCheckin(capture('mdm_testdata_TokenUpdate.2.plist'))).status).toBe(200);
    const e = t.server.store.getEnrollment(udid)!;
    expect(e).toMatchObject({ enabled: true, tokenUpdateTally: 1, pushMagic: '888CEB39-BFFA-40F6-89FA-B60752EB63C2', enrolledAt: T0 });
    expect(e.token).toBe(Buffer.from('G6fJAGbFD3domiTzpCXK9oowD3KeiORgqUFgItXWQsw=', 'base64').toString('hex'));

    t.server.service.enqueue([udid], commands.DeviceInformation({ Queries: ['HostName', 'UDID'] }, { CommandUUID: '76eda240-5488-4989-8339-f2ae160113c4' }));
    const raw = capture('mdm_testdata_DeviceInformation.1.plist');
    const r = await putConnect(raw);
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(0);
    const [result] = t.server.store.listResults({ id: udid });
    expect(result).toMatchObject({ status: 'Acknowledged', requestType: 'DeviceInformation', commandUUID: '76eda240-5488-4989-8339-f2ae160113c4' });
    expect(Buffer.compare(result!.raw, raw)).toBe(0);
  });

  it('accepts the iOS 9 Authenticate and TokenUpdate (with an UnlockToken)', async () => {
    expect((await putCheckin(capture('mdm_testdata_Authenticate.1.plist'))).status).toBe(200);
    expect((await putCheckin(capture('mdm_testdata_TokenUpdate.1.plist'))).status).toBe(200);
    const e = t.server.store.getEnrollment('663b07bb783e9ade1dae4fbb92ea12afc0ce5b69')!;
    expect(e).toMatchObject({ platform: 'iOS', osVersion: '9.3.5', enabled: true, tokenUpdateTally: 1 });
    expect(e.unlockToken!.length).toBeGreaterThan(100);
  });
});

describe('check-in semantics', () => {
  it('TokenUpdate counts a tally: 1 at enrollment, then 2', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    expect(t.server.store.getEnrollment(mac.udid)!.tokenUpdateTally).toBe(1);
    mac.pushMagic = 'NEW-MAGIC';
    expect((await mac.checkin(mac.tokenUpdateMessage())).status).toBe(200);
    expect(t.server.store.getEnrollment(mac.udid)).toMatchObject({ tokenUpdateTally: 2, pushMagic: 'NEW-MAGIC' });
    const events = t.server.events.query({ udid: mac.udid, types: ['mdm.checkin'] });
    expect(events.map((e) => e.data?.messageType)).toEqual(['Authenticate', 'TokenUpdate', 'TokenUpdate']);
    expect(events[1]!.data).toMatchObject({ tally: 1 });
  });

  it('CheckOut disables the enrollment; connects are then refused with 400, never 401', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    expect((await mac.checkin({ MessageType: 'CheckOut', Topic: 'com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9', UDID: mac.udid })).status).toBe(200);
    expect(t.server.store.getEnrollment(mac.udid)!.enabled).toBe(false);
    const r = await mac.sendReport({ UDID: mac.udid, Status: 'Idle' });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString()).error).toMatchObject({ code: 'enrollment-disabled' });
  });

  it('UserAuthenticate answers 410', async () => {
    const mac = new TestMac(t.http);
    await mac.enroll();
    keys.add(mac);
    const body = buildPlist({ MessageType: 'UserAuthenticate', UDID: mac.udid, UserID: 'A1B2C3D4-0000-0000-0000-000000000001', DigestResponse: '' });
    const r = await putCheckin(body);
    expect(r.status).toBe(410);
  });

  it('SetBootstrapToken stores it and GetBootstrapToken returns it (NanoMDM bstoken scenario)', async () => {
    const mac = new TestMac(t.http, { ...new TestMac(t.http).id, osVersion: '14.4.1' });
    await mac.enroll();
    let r = await mac.checkin({ MessageType: 'GetBootstrapToken', UDID: mac.udid });
    expect(r.status).toBe(200);
    expect(parsePlist(r.body)).toEqual({});
    expect((await mac.checkin({ MessageType: 'SetBootstrapToken', UDID: mac.udid, BootstrapToken: Buffer.from('hello world') })).status).toBe(200);
    r = await mac.checkin({ MessageType: 'GetBootstrapToken', UDID: mac.udid });
    expect(r.status).toBe(200);
    expect((parsePlist(r.body) as { BootstrapToken: Buffer }).BootstrapToken.toString()).toBe('hello world');
    expect((await mac.checkin({ MessageType: 'SetBootstrapToken', UDID: mac.udid })).status).toBe(200);
    expect(t.server.store.getEnrollment(mac.udid)!.bootstrapToken).toBeUndefined();
  });

  it('timestamps in records and events are clock time', async () => {
    const before = t.clock.now();
    await t.clock.advance(36 * 3600_000);
    const mac = new TestMac(t.http);
    await mac.enroll();
    const e = t.server.store.getEnrollment(mac.udid)!;
    expect(e.authenticatedAt).toBe(before + 36 * 3600_000);
    expect(e.enrolledAt).toBe(before + 36 * 3600_000);
    const [ev] = t.server.events.query({ udid: mac.udid });
    expect(ev!.at).toBe(before + 36 * 3600_000);
  });
});
