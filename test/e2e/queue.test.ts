/**
 * NanoMDM's end-to-end queue scenarios (test/e2e/queue.go), over real HTTPS on port 0.
 */
import { commands, type Command } from '../../protocol/command';
import { buildPlist } from '../../protocol/plist';
import { TestMac } from '../helpers/mdm-client';
import { startTestServer, type TestServer } from '../helpers/server';
import { POLICIES_OFF } from '../helpers/agent';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer(POLICIES_OFF);
});
afterAll(() => t.stop());

const info = (uuid: string) => commands.DeviceInformation({ Queries: ['OSVersion'] }, { CommandUUID: uuid });

async function enrolledMac(): Promise<TestMac> {
  const mac = new TestMac(t.http);
  await mac.enroll();
  return mac;
}

function enqueue(mac: TestMac, command: Command) {
  return t.server.service.enqueue([mac.udid], command);
}

describe('queue scenarios', () => {
  it('basic: Idle → CMD1, Ack → CMD2, Ack → empty 200', async () => {
    const mac = await enrolledMac();
    expect(await mac.idle()).toBeUndefined();
    enqueue(mac, info('CMD1'));
    enqueue(mac, info('CMD2'));
    expect((await mac.idle())?.CommandUUID).toBe('CMD1');
    expect((await mac.ack('CMD1', { QueryResponses: { OSVersion: '14.4.1' } }, 'DeviceInformation'))?.CommandUUID).toBe('CMD2');
    expect(await mac.ack('CMD2', { QueryResponses: { OSVersion: '14.4.1' } }, 'DeviceInformation')).toBeUndefined();
    expect(await mac.idle()).toBeUndefined();
  });

  it('the delivered command is the full envelope, byte-identical on every delivery', async () => {
    const mac = await enrolledMac();
    const cmd = commands.DeviceLock({ PIN: '123456', Message: 'Call IT' });
    enqueue(mac, cmd);
    const r1 = await mac.sendReport({ UDID: mac.udid, Status: 'Idle' });
    const r2 = await mac.sendReport({ UDID: mac.udid, Status: 'Idle' });
    expect(r1.status).toBe(200);
    expect(r1.body.toString()).toBe(buildPlist(cmd as never));
    expect(Buffer.compare(r1.body, r2.body)).toBe(0);
  });

  it('notnow: kept, skipped for the rest of the connection, retried on the next Idle', async () => {
    const mac = await enrolledMac();
    expect(await mac.idle()).toBeUndefined();
    enqueue(mac, info('CMD3'));
    expect((await mac.idle())?.CommandUUID).toBe('CMD3');
    expect(await mac.notNow('CMD3')).toBeUndefined();
    expect((await mac.idle())?.CommandUUID).toBe('CMD3');
    expect(await mac.ack('CMD3', { QueryResponses: {} }, 'DeviceInformation')).toBeUndefined();
    expect(await mac.idle()).toBeUndefined();
  });

  it('notnow: the NotNow command stays skipped after another command is acknowledged in the same connection', async () => {
    const mac = await enrolledMac();
    enqueue(mac, info('NN-A'));
    enqueue(mac, info('NN-B'));
    expect((await mac.idle())?.CommandUUID).toBe('NN-A');
    expect((await mac.notNow('NN-A'))?.CommandUUID).toBe('NN-B');
    // NanoMDM would hand NN-A back here; the contract says skipped for the rest of this connection.
    expect(await mac.ack('NN-B', { QueryResponses: {} }, 'DeviceInformation')).toBeUndefined();
    expect(t.server.store.listQueue(mac.udid)).toEqual([expect.objectContaining({ commandUUID: 'NN-A', status: 'NotNow' })]);
    expect((await mac.idle())?.CommandUUID).toBe('NN-A');
    expect(t.server.store.listQueue(mac.udid)).toEqual([expect.objectContaining({ commandUUID: 'NN-A', status: 'queued' })]);
  });

  it('notnow: a command NotNow\'d in an earlier connection is offered again in the next one, after the Idle', async () => {
    const mac = await enrolledMac();
    enqueue(mac, info('X-1'));
    enqueue(mac, info('X-2'));
    expect((await mac.idle())?.CommandUUID).toBe('X-1');
    expect((await mac.notNow('X-1'))?.CommandUUID).toBe('X-2');
    expect(await mac.notNow('X-2')).toBeUndefined();
    // Next connection: X-1 first; once it is done, X-2 (NotNow'd in the previous connection) follows.
    expect((await mac.idle())?.CommandUUID).toBe('X-1');
    expect((await mac.ack('X-1', { QueryResponses: {} }, 'DeviceInformation'))?.CommandUUID).toBe('X-2');
    expect(await mac.ack('X-2', { QueryResponses: {} }, 'DeviceInformation')).toBeUndefined();
  });

  it('Idle and reports move the enrollment\'s last-seen time (clock time)', async () => {
    const mac = await enrolledMac();
    await t.clock.advance(3_600_000);
    await mac.idle();
    expect(t.server.store.getEnrollment(mac.udid)!.lastSeenAt).toBe(t.clock.now());
    enqueue(mac, info('SEEN'));
    await mac.idle();
    await t.clock.advance(60_000);
    await mac.ack('SEEN', { QueryResponses: {} }, 'DeviceInformation');
    expect(t.server.store.getEnrollment(mac.udid)!.lastSeenAt).toBe(t.clock.now());
  });

  it('clear: Authenticate clears the queue and disables until TokenUpdate', async () => {
    const mac = await enrolledMac();
    enqueue(mac, info('CMD4'));
    expect((await mac.checkin(mac.authenticateMessage())).status).toBe(200);
    expect(t.server.store.getEnrollment(mac.udid)).toMatchObject({ enabled: false, tokenUpdateTally: 0 });
    const r = await mac.sendReport({ UDID: mac.udid, Status: 'Idle' });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString()).error.code).toBe('enrollment-disabled');
    expect((await mac.checkin(mac.tokenUpdateMessage())).status).toBe(200);
    expect(t.server.store.getEnrollment(mac.udid)).toMatchObject({ enabled: true, tokenUpdateTally: 1 });
    expect(await mac.idle()).toBeUndefined();
  });

  it('one command enqueued to many devices reaches each of them', async () => {
    const macs = await Promise.all([1, 2, 3, 4, 5].map(() => enrolledMac()));
    const cmd = commands.ProfileList();
    const result = t.server.service.enqueue(macs.map((m) => m.udid), cmd);
    expect(result.queued).toHaveLength(5);
    for (const mac of macs) {
      expect((await mac.idle())?.CommandUUID).toBe(cmd.CommandUUID);
      expect(await mac.ack(cmd.CommandUUID, { ProfileList: [] }, 'ProfileList')).toBeUndefined();
    }
    expect(t.server.store.listResults({ commandUUID: cmd.CommandUUID })).toHaveLength(5);
  });

  it('a duplicate CommandUUID is rejected and the first command is kept', async () => {
    const mac = await enrolledMac();
    enqueue(mac, info('DUP-1'));
    expect(() => enqueue(mac, commands.ProfileList({}, { CommandUUID: 'DUP-1' }))).toThrow(/already exists/);
    expect(t.server.store.listQueue(mac.udid).map((q) => q.requestType)).toEqual(['DeviceInformation']);
  });

  it('results are stored with their raw plist', async () => {
    const mac = await enrolledMac();
    const cmd = commands.SecurityInfo();
    enqueue(mac, cmd);
    await mac.idle();
    const response = { SecurityInfo: { FDE_Enabled: true, SystemIntegrityProtectionEnabled: true } };
    const sent = await mac.sendReport({ UDID: mac.udid, CommandUUID: cmd.CommandUUID, Status: 'Acknowledged', ...response }, 'SecurityInfo');
    expect(sent.status).toBe(200);
    const [stored] = t.server.store.listResults({ id: mac.udid, commandUUID: cmd.CommandUUID });
    expect(stored).toMatchObject({ status: 'Acknowledged', requestType: 'SecurityInfo' });
    expect(stored!.raw.toString()).toContain('<key>FDE_Enabled</key>');
    expect(stored!.raw.toString()).toBe(buildPlist({ UDID: mac.udid, CommandUUID: cmd.CommandUUID, Status: 'Acknowledged', ...response }));
  });

  it('Error and CommandFormatError results dequeue and keep their ErrorChain', async () => {
    const mac = await enrolledMac();
    const a = commands.RestartDevice();
    const b = commands.ShutDownDevice();
    enqueue(mac, a);
    enqueue(mac, b);
    await mac.idle();
    const chain = [{ ErrorCode: 12021, ErrorDomain: 'MCMDMErrorDomain', LocalizedDescription: 'Unsupported command', USEnglishDescription: 'Unsupported command' }];
    expect((await mac.report({ UDID: mac.udid, CommandUUID: a.CommandUUID, Status: 'Error', ErrorChain: chain }))?.CommandUUID).toBe(b.CommandUUID);
    expect(await mac.report({ UDID: mac.udid, CommandUUID: b.CommandUUID, Status: 'CommandFormatError' })).toBeUndefined();
    const results = t.server.store.listResults({ id: mac.udid });
    expect(results.map((r) => r.status)).toEqual(['Error', 'CommandFormatError']);
    const events = t.server.events.query({ udid: mac.udid, types: ['mdm.command.result'] });
    expect(events[0]!.data).toMatchObject({ status: 'Error', errorChain: chain });
  });

  it('/mdm dispatches check-ins and connects by Content-Type', async () => {
    const mac = new TestMac(t.http);
    expect((await mac.checkin(mac.authenticateMessage(), '/mdm')).status).toBe(200);
    expect((await mac.checkin(mac.tokenUpdateMessage(), '/mdm')).status).toBe(200);
    enqueue(mac, info('VIA-MDM'));
    expect((await mac.report({ UDID: mac.udid, Status: 'Idle' }, undefined, '/mdm'))?.CommandUUID).toBe('VIA-MDM');
  });

  it('POST works as well as PUT', async () => {
    const mac = await enrolledMac();
    const body = Buffer.from(buildPlist({ UDID: mac.udid, Status: 'Idle' }));
    const r = await t.http.send('POST', '/mdm/connect', body, { 'content-type': 'application/x-apple-aspen-mdm', ...(await mac.signatureHeaders(body)) });
    expect(r.status).toBe(200);
  });
});
